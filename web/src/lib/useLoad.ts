// A page's data: loading, the error to show (role alert), and a reload.
import { onMounted, ref, type Ref } from "vue";
import { useAction } from "./useAction";

export function useLoad<T>(load: () => Promise<T>, immediate = true) {
  const data = ref<T | null>(null) as Ref<T | null>;
  const { busy: loading, error, run: reload } = useAction(async () => {
    data.value = await load();
  });

  if (immediate) onMounted(reload);
  return { data, error, loading, reload };
}
