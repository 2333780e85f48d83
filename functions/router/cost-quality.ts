/**
 * The one definition of a router's cost and quality, shared by `router:calibrate` (learned/train.ts, on held-out
 * folds) and `router:replay` (replay/replay.ts): each request's cost is its model calls priced from their reported
 * or recorded tokens with the catalog (an escalated request pays for both calls, a judged one for the judge's call
 * too), and
 * - costShare = total cost ÷ the always-strong total cost of the same requests,
 * - kept = correct answers ÷ the always-strong correct answers of the same requests,
 * - accuracy = correct answers ÷ requests.
 */
export interface Tally {
  /** Sum of the requests' costs (any unit, the same for both tallies). */
  cost: number;
  /** Requests answered correctly. */
  correct: number;
}

export interface CostQuality {
  costShare: number;
  kept: number;
  accuracy: number;
}

/** Cost share, kept and accuracy of `routed` over `requests` requests, against always-strong on the same requests. */
export function costQuality(routed: Tally, alwaysStrong: Tally, requests: number): CostQuality {
  return {
    costShare: routed.cost / alwaysStrong.cost,
    kept: routed.correct / alwaysStrong.correct,
    accuracy: routed.correct / requests,
  };
}
