// Asking for a one-time code and entering it (sign-in, recovery, a move to a new phone): one error
// shown for both steps, the resend countdown (a 429 waits out its Retry-After), the cursor in the
// code field once a code is on its way, and the minutes of a lockout when codes were refused too often.
import { nextTick, ref, useTemplateRef, type Ref } from "vue";
import { ApiError } from "./api";
import { RESEND_SECONDS, useCountdown } from "./countdown";
import { lockoutMinutes, waitSeconds } from "./errors";

/** `codeField` is the template ref of the code's field (a CodeField). */
export function useCodeEntry(codeField: string) {
  const error = ref<unknown>(null);
  const lockedMinutes = ref<number | null>(null);
  const codeInput = useTemplateRef<{ focus: () => void }>(codeField);
  const { remaining, start, reset } = useCountdown();

  /** `request` asks for a code and records where it went; `onWait` runs before a 429's wait starts. */
  async function requestCode(busy: Ref<boolean>, request: () => Promise<void>, onWait?: () => void) {
    error.value = null;
    busy.value = true;
    try {
      await request();
      start(RESEND_SECONDS);
      await nextTick();
      codeInput.value?.focus();
    } catch (e) {
      error.value = e;
      if (e instanceof ApiError && e.status === 429) {
        onWait?.();
        start(waitSeconds(e, RESEND_SECONDS));
      }
    } finally {
      busy.value = false;
    }
  }

  /** `verify` sends the code the member typed and does what its acceptance means. */
  async function enterCode(busy: Ref<boolean>, verify: () => Promise<void>) {
    error.value = null;
    lockedMinutes.value = null;
    busy.value = true;
    try {
      await verify();
    } catch (e) {
      error.value = e;
      lockedMinutes.value = lockoutMinutes(e);
    } finally {
      busy.value = false;
    }
  }

  return { error, lockedMinutes, remaining, reset, requestCode, enterCode };
}
