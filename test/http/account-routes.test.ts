// SPEC §9 over HTTP on SQLite with the memory token store and the embedded outbox mailer.
import { accountScenarios } from './account-scenarios.js';

accountScenarios('email and password recovery over HTTP (SQLite, memory store, outbox)');
