/** Entry of a gateway worker process; the primary forks it through node:cluster (see supervisor.ts). */
import { runGatewayWorker } from "./worker.js";

await runGatewayWorker();
