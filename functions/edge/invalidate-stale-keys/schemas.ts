import { z } from 'zod';

/** The EventBridge envelope of a state change (the detail is checked against its rule). */
export const ChangeEvent = z.object({
  id: z.string().min(1).max(128),
  'detail-type': z.string().min(1),
  time: z.iso.datetime({ offset: true }),
  detail: z.record(z.string(), z.unknown(), { error: 'detail must be an object' }),
});
export type ChangeEvent = z.infer<typeof ChangeEvent>;

const Answer = z.object({
  key: z.string(),
  userId: z.string(),
  actionId: z.string(),
  generation: z.number(),
  dependencies: z.array(z.object({ tag: z.string(), version: z.number(), eventId: z.string().optional() })),
  expiresAt: z.number(),
});

/** FindDependentKeys' output: one page of stale answers of the changed tag. */
export const FoundKeys = z.object({
  tag: z.string().optional(),
  at: z.number().optional(),
  ignored: z.boolean(),
  regenerate: z.boolean(),
  answers: z.array(Answer),
  /** More stale answers remain after this page: the machine loops. */
  more: z.boolean(),
});
export type FoundKeys = z.infer<typeof FoundKeys>;

export const AnswersInput = z.object({ answers: z.array(Answer) });
export type AnswersInput = z.infer<typeof AnswersInput>;
