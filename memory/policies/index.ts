import type { MemoryConfig } from '../../config/schema.js';
import type { CachePolicy } from '../types.js';
import { flushPerRequest } from './flush-per-request.js';
import { flushPerWorkflow } from './flush-per-workflow.js';
import { preserve } from './preserve.js';

const POLICIES: Record<MemoryConfig['policy'], CachePolicy> = {
  'flush-per-request': flushPerRequest,
  'flush-per-workflow': flushPerWorkflow,
  preserve,
};

export const cachePolicy = (name: MemoryConfig['policy']): CachePolicy => POLICIES[name];
