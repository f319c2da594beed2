/**
 * Zero-downtime, measured: under the same continuous load, a `slipway deploy` v1 → v2 against
 * the naive way of the runbooks (stop the container, run the new one: what `docker compose up -d`
 * does when the image changes), on one fresh VPS box; then the time of a rollback with the image
 * on the host. Needs the test rig (rig/install.sh) and the build (npm run build).
 *
 * Last line: deploy-bench: requests=<n> failed=<n> naive_requests=<n> naive_failed=<n> deploy_s=<s> rollback_s=<s>
 */
import { imagesAvailable, rigAvailable, startVpsBox } from "../test/rig/index.ts";
import { helloProject } from "../test/support/hello-project.ts";
import { type LoadReport, startLoad } from "../test/support/load.ts";

for (const check of [rigAvailable(), imagesAvailable()]) {
  if (!check.ok) {
    console.error(`deploy-bench: ${check.reason} (run rig/install.sh as root)`);
    process.exit(1);
  }
}

const box = await startVpsBox({ publish: [80, 81] });
try {
  const hello = await helloProject(box);
  await hello.configure("bench");
  const must = async (args: string[]) => {
    const run = await hello.slipway(args);
    if (run.code !== 0) throw new Error(`slipway ${args.join(" ")} failed:\n${run.stderr}`);
  };
  await must(["server", "bootstrap"]);
  await must(["deploy", "--version", "v1"]);
  await must(["deploy", "--version", "v2"]); // both images are now on the host
  await must(["rollback", "v1"]);

  const settle = () => new Promise((r) => setTimeout(r, 1000));
  const timed = async (work: () => Promise<unknown>, url: string) => {
    const load = startLoad(url, { concurrency: 4, maxMs: 300_000 });
    await settle();
    const started = performance.now();
    await work();
    const seconds = (performance.now() - started) / 1000;
    await settle();
    return { seconds, report: await load.stop() };
  };

  // Slipway: v1 → v2 through the proxy on port 80.
  const slipway = await timed(
    () => must(["deploy", "--version", "v2", "--skip-build"]),
    `http://127.0.0.1:${box.ports[80]}/`,
  );

  // Naive: the same image pair, one container published on port 81, replaced in place.
  await box.exec([
    "docker",
    "run",
    "-d",
    "--name",
    "naive",
    "-e",
    "SLIPWAY_VERSION=v1",
    "-p",
    "81:3000",
    "hello:v1",
  ]);
  const naiveUrl = `http://127.0.0.1:${box.ports[81]}/`;
  for (let i = 0; i < 50; i++) {
    if ((await fetch(naiveUrl).catch(() => undefined))?.ok) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const naive = await timed(
    () =>
      box.exec([
        "sh",
        "-c",
        "docker stop naive && docker rm naive && docker run -d --name naive -e SLIPWAY_VERSION=v2 -p 81:3000 hello:v2",
      ]),
    naiveUrl,
  );

  const rollback = await timed(
    () => must(["rollback", "v1"]),
    `http://127.0.0.1:${box.ports[80]}/`,
  );

  const show = (name: string, r: { seconds: number; report: LoadReport }) =>
    console.log(
      `${name.padEnd(16)} ${r.seconds.toFixed(1).padStart(5)}s  requests=${r.report.requests} failed=${r.report.failed} versions=${r.report.versions.join("→")}${r.report.failures[0] ? `  first failure: ${r.report.failures[0]}` : ""}`,
    );
  show("slipway deploy", slipway);
  show("naive replace", naive);
  show("slipway rollback", rollback);
  console.log(
    `deploy-bench: requests=${slipway.report.requests} failed=${slipway.report.failed} naive_requests=${naive.report.requests} naive_failed=${naive.report.failed} deploy_s=${slipway.seconds.toFixed(1)} rollback_s=${rollback.seconds.toFixed(1)}`,
  );
} finally {
  await box.stop();
}
