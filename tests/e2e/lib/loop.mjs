// One candidate session with the closed-loop challenges answered by a scripted participant:
// shared by the loop test and `scripts/bench loop`.
import { latestVerdict, openCandidate } from "../harness.mjs";
import { loadSubjects, typingEvents, dispatch } from "./replay.mjs";
import { person, tapAlong, follow } from "./participant.mjs";

const subjects = loadSubjects(new URL("../../data/cmu-keystrokes-sample.csv", import.meta.url).pathname);

/** Runs a session: typing (three CMU repetitions), rhythm, tracking; returns the final verdict. */
export async function runLoopSession(browser, edge, { loopMs, jitterMs, seed, shot = null }) {
  const who = person(seed);
  const { session, context, page } = await openCandidate(browser, edge);
  const cdp = await context.newCDPSession(page);
  const names = [...subjects.keys()];
  const typing = typingEvents(subjects.get(names[seed % names.length]).slice(0, 3)).filter((e) => !e.repeat && e.code !== "Space");
  await dispatch(cdp, typing, Date.now() / 1000 + 0.2);
  await page.getByTestId("probe-status").filter({ hasText: /^33 key presses/ }).waitFor({ timeout: 10_000 });
  await page.getByTestId("finish").click();

  const started = Date.now();
  await page.getByTestId("rhythm").waitFor();
  await page.getByTestId("start-task").click();
  if (shot) setTimeout(() => page.screenshot({ path: shot("candidate-rhythm.png") }).catch(() => {}), 2500);
  await tapAlong(page, cdp, who, { loopMs, jitterMs });
  await page.getByTestId("tracking").waitFor();
  await page.getByTestId("start-task").click();
  if (shot) setTimeout(() => page.screenshot({ path: shot("candidate-tracking.png") }).catch(() => {}), 4000);
  await follow(page, cdp, who, { loopMs, jitterMs });
  const seconds = (Date.now() - started) / 1000;
  await page.getByTestId("done").waitFor({ timeout: 30_000 });
  // A person's hand keeps moving over the thank-you page; that must not become evidence the
  // sealed session refuses, nor an error shown to the candidate.
  for (let i = 0; i < 20; i++) await page.mouse.move(200 + 10 * i, 300, { steps: 2 });
  await new Promise((resolve) => setTimeout(resolve, 1500));
  const problems = await page.getByTestId("problem").allTextContents();
  await context.close();
  if (problems.length) throw new Error(`the finished page shows a problem: ${problems.join("; ")}`);
  const { verdict } = await latestVerdict(browser, edge, session);
  return { loopMs, verdict, seconds };
}
