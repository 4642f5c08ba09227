// "Send code" waits out the resend interval (60 s, or the API's Retry-After) with a visible countdown.
import { onBeforeUnmount, ref } from "vue";

export const RESEND_SECONDS = 60;

export function secondsLeft(until: number, now: number): number {
  return Math.max(0, Math.ceil((until - now) / 1000));
}

export function useCountdown() {
  const remaining = ref(0);
  let until = 0;
  let timer: ReturnType<typeof setInterval> | undefined;

  function tick() {
    remaining.value = secondsLeft(until, Date.now());
    if (remaining.value === 0 && timer !== undefined) {
      clearInterval(timer);
      timer = undefined;
    }
  }

  function start(seconds: number) {
    until = Date.now() + seconds * 1000;
    tick();
    if (timer === undefined && remaining.value > 0) timer = setInterval(tick, 250);
  }

  /** The interval is per phone: another number may have its code at once. */
  function reset() {
    until = 0;
    tick();
  }

  onBeforeUnmount(() => timer !== undefined && clearInterval(timer));
  return { remaining, start, reset };
}
