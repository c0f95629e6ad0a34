// Distinct requests end to end on the embedded default (filesystem + SQLite): see tests/helpers/distinct-requests-scenario.ts.
import { EMBEDDED_PAIR } from '../helpers/adapter-pairs.js';
import { describeDistinctRequests } from '../helpers/distinct-requests-scenario.js';

describeDistinctRequests(EMBEDDED_PAIR);
