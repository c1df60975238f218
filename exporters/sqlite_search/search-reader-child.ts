/**
 * A separate reader process for the concurrency test: searches the store
 * in a loop while the test process writes to it, printing what it sees.
 * Usage: node search-reader-child.mjs <path> <durationMs>
 * Prints "SEEN <hits>" per search, "ERROR <message>" on failure, then "DONE".
 */
import { searchRecords } from "./search-records.js";

const [path, durationText] = process.argv.slice(2);
const until = Date.now() + Number(durationText);
let searches = 0;
while (Date.now() < until) {
  try {
    const hits = searchRecords(path as string, { text: "handled", limit: 10_000 });
    process.stdout.write(`SEEN ${hits.length}\n`);
  } catch (err) {
    process.stdout.write(`ERROR ${(err as Error).message.replaceAll("\n", " ")}\n`);
  }
  searches++;
  await new Promise((resolve) => setTimeout(resolve, 5));
}
process.stdout.write(`DONE ${searches}\n`);
