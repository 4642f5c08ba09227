// A page's data: loading, the error to show (role alert), and a reload.
import { onMounted, ref, type Ref } from "vue";

export function useLoad<T>(load: () => Promise<T>, immediate = true) {
  const data = ref<T | null>(null) as Ref<T | null>;
  const error = ref<unknown>(null);
  const loading = ref(false);

  async function reload() {
    loading.value = true;
    error.value = null;
    try {
      data.value = await load();
    } catch (e) {
      error.value = e;
    } finally {
      loading.value = false;
    }
  }

  if (immediate) onMounted(reload);
  return { data, error, loading, reload };
}
