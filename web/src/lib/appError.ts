import { ref } from "vue";

/** An error no page handled (a render error, a page that failed to load): App.vue shows it. */
export const appError = ref<unknown>(null);
