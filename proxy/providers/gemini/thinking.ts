// reasoning_effort as Gemini's thinking control, which differs by model generation. Gemini 3 and
// later take a `thinkingLevel`: Pro models know low and high and cannot stop thinking, Flash models
// know minimal, low, medium and high. Gemini 2.5 takes a `thinkingBudget` in tokens: 0 turns thinking
// off on Flash and Flash-Lite, while Pro cannot turn it off (its least is 128) and refuses 0. Sending
// both fields is a 400, and so is either on Gemini 2.0 and older, which do not think. A name that shows
// no version (an alias such as gemini-flash-latest, a tuned or experimental model) gets a budget, which
// every thinking generation accepts, but never 0 (a Pro refuses it): none and minimal send nothing
// there, and the model thinks as it does by default. Pure.

import { geminiVersion } from './model-generation.ts';

export type ThinkingConfig = { thinkingLevel: 'minimal' | 'low' | 'medium' | 'high' } | { thinkingBudget: number };

/** The least budget of 2.5 Pro, which cannot stop thinking: the nearest it comes to none. */
const PRO_MIN_BUDGET = 128;
const BUDGETS: Record<string, number> = { none: 0, minimal: 0, low: 1024, medium: 8192, high: 24576, xhigh: 32768 };
const FLASH_MAX_BUDGET = 24576;

/** The thinking config for a reasoning_effort, or undefined for an effort Gemini has no equivalent of. */
export function thinkingConfigFor(model: string, effort: string): ThinkingConfig | undefined {
  if (BUDGETS[effort] === undefined) return undefined;
  const pro = /(?:^|[-/])pro(?:-|$)/.test(model);
  const version = geminiVersion(model);
  if (version !== undefined && version < 2.5) return undefined;
  if (version !== undefined && version >= 3) {
    if (pro) return { thinkingLevel: effort === 'medium' || effort === 'high' || effort === 'xhigh' ? 'high' : 'low' };
    if (effort === 'none' || effort === 'minimal') return { thinkingLevel: 'minimal' };
    return { thinkingLevel: effort === 'xhigh' ? 'high' : (effort as 'low' | 'medium' | 'high') };
  }
  const budget = BUDGETS[effort]!;
  if (version === undefined) return budget === 0 ? undefined : { thinkingBudget: Math.min(FLASH_MAX_BUDGET, budget) };
  if (pro) return { thinkingBudget: Math.max(PRO_MIN_BUDGET, budget) };
  return { thinkingBudget: Math.min(FLASH_MAX_BUDGET, budget) };
}
