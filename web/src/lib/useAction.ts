// Something a page does that can fail (load, send, save): busy while it runs, and the error to
// show (role alert) when it failed. Each run clears the last error first; `onError` does what
// else a failure means to the page.
import { ref } from "vue";

export function useAction<A extends unknown[]>(act: (...args: A) => Promise<void>, onError?: (e: unknown) => void) {
  const busy = ref(false);
  const error = ref<unknown>(null);

  async function run(...args: A) {
    error.value = null;
    busy.value = true;
    try {
      await act(...args);
    } catch (e) {
      error.value = e;
      onError?.(e);
    } finally {
      busy.value = false;
    }
  }

  return { busy, error, run };
}
