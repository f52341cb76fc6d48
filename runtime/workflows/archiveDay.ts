import { dayOfId } from '../ids.ts';
import type { WorkflowRecord } from './types.ts';

/** The archive day a record belongs to: the day in its id, else the day it was created. */
export const archiveDay = (r: WorkflowRecord): string => dayOfId(r.id) ?? r.createdAt.slice(0, 10);
