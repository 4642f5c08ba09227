import { describe, expect, it } from "vitest";
import { answersOf, emptyDraft, picksOf, problemsOf, scaleOf } from "./surveys";
import type { SurveyQuestion } from "./types";

const QUESTIONS: SurveyQuestion[] = [
  { question_id: "visit", kind: "single_choice", text: "?", required: true, options: [{ option_id: "a", label: "A" }, { option_id: "b", label: "B" }] },
  {
    question_id: "likes",
    kind: "multiple_choice",
    text: "?",
    required: true,
    min_picks: 0,
    max_picks: 2,
    options: [
      { option_id: "x", label: "X" },
      { option_id: "y", label: "Y" },
      { option_id: "z", label: "Z" },
    ],
  },
  { question_id: "score", kind: "rating", text: "?", required: false, scale: "0-10" },
  { question_id: "note", kind: "free_text", text: "?", required: false, max_length: 5 },
];

describe("a survey form", () => {
  it("starts empty, with no picks, and a rating's scale from its low to its high end", () => {
    expect(emptyDraft(QUESTIONS)).toEqual({ visit: null, likes: [], score: null, note: null });
    expect(scaleOf(QUESTIONS[2])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(scaleOf({ ...QUESTIONS[2], scale: "1-5" })).toEqual([1, 2, 3, 4, 5]);
  });

  it("asks at least one pick of a required multiple choice, and no more than its maximum", () => {
    expect(picksOf(QUESTIONS[1])).toEqual([1, 2]);
    const draft = { ...emptyDraft(QUESTIONS), visit: "a", likes: ["x", "y", "z"] };
    expect(problemsOf(QUESTIONS, draft)).toEqual({ likes: { kind: "picks", low: 1, high: 2 } });
  });

  it("names every required question left empty and every text too long, and nothing else", () => {
    expect(problemsOf(QUESTIONS, { ...emptyDraft(QUESTIONS), note: "toolong" })).toEqual({
      visit: { kind: "required" },
      likes: { kind: "required" },
      note: { kind: "too_long", max: 5 },
    });
  });

  it("sends only what was answered, text trimmed, a rating of 0 included", () => {
    const draft = { visit: "b", likes: ["z"], score: 0, note: "   " };
    expect(problemsOf(QUESTIONS, draft)).toEqual({});
    expect(answersOf(QUESTIONS, draft)).toEqual({ visit: "b", likes: ["z"], score: 0 });
    expect(answersOf(QUESTIONS, { ...draft, note: " 好 " })).toMatchObject({ note: "好" });
  });
});
