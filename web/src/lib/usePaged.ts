// A list read page by page ("Show more"), newest first as the API gives it.
import { onMounted, ref, type Ref } from "vue";
import type { Page } from "./types";
import { useAction } from "./useAction";

export function usePaged<T, P extends Page<T> = Page<T>>(load: (cursor: string | null) => Promise<P>) {
  const items = ref<T[]>([]) as Ref<T[]>;
  const last = ref<P | null>(null) as Ref<P | null>;
  const cursor = ref<string | null>(null);
  const started = ref(false);

  const { busy: loading, error, run: more } = useAction(async () => {
    const page = await load(cursor.value);
    items.value.push(...page.items);
    cursor.value = page.next_cursor;
    last.value = page;
    started.value = true;
  });

  onMounted(more);
  return { items, last, cursor, error, loading, started, more };
}
