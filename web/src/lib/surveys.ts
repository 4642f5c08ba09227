// Surveys (问卷) on the member's side: what the form holds, the body it sends, and the checks the
// server makes (domain/surveys.py) made before sending, so a member hears what is missing at once.
import type { SurveyAnswer, SurveyQuestion } from "./types";

/** The form's state: one entry per question (a text, a number, the picks). */
export type Draft = Record<string, SurveyAnswer | null>;

export function emptyDraft(questions: SurveyQuestion[]): Draft {
  return Object.fromEntries(questions.map((q) => [q.question_id, q.kind === "multiple_choice" ? [] : null]));
}

export function scaleOf(question: SurveyQuestion): number[] {
  const [low, high] = question.scale === "0-10" ? [0, 10] : [1, 5];
  return Array.from({ length: high - low + 1 }, (_, i) => low + i);
}

export function picksOf(question: SurveyQuestion): [number, number] {
  const options = question.options?.length ?? 0;
  let low = question.min_picks ?? 0;
  if (question.required && low === 0) low = 1;
  return [low, question.max_picks ?? options];
}

function isEmpty(value: SurveyAnswer | null | undefined): boolean {
  return value === null || value === undefined || (Array.isArray(value) ? value.length === 0 : typeof value === "string" && value.trim() === "");
}

/** The body's answers: questions left empty are left out; text trimmed. */
export function answersOf(questions: SurveyQuestion[], draft: Draft): Record<string, SurveyAnswer> {
  const out: Record<string, SurveyAnswer> = {};
  for (const q of questions) {
    const value = draft[q.question_id];
    if (value === null || value === undefined || isEmpty(value)) continue;
    out[q.question_id] = typeof value === "string" ? value.trim() : value;
  }
  return out;
}

export type Problem = { kind: "required" } | { kind: "picks"; low: number; high: number } | { kind: "too_long"; max: number };

/** What keeps each question from being sent, by question id (empty: the answers may go). */
export function problemsOf(questions: SurveyQuestion[], draft: Draft): Record<string, Problem> {
  const problems: Record<string, Problem> = {};
  for (const q of questions) {
    const value = draft[q.question_id];
    if (isEmpty(value)) {
      if (q.required) problems[q.question_id] = { kind: "required" };
      continue;
    }
    if (q.kind === "multiple_choice" && Array.isArray(value)) {
      const [low, high] = picksOf(q);
      if (value.length < low || value.length > high) problems[q.question_id] = { kind: "picks", low, high };
    }
    if (q.kind === "free_text" && typeof value === "string" && q.max_length && value.trim().length > q.max_length) {
      problems[q.question_id] = { kind: "too_long", max: q.max_length };
    }
  }
  return problems;
}
