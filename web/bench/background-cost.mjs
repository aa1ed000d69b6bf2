// What the WebGL background costs the whole browser: CPU time of every Chromium process
// (CDP SystemInfo.getProcessInfo: browser, renderer, GPU, utility) over a fixed window, in
// percent of one core, plus the page's main-thread TaskDuration and the frames drawn.
// Headless Chromium renders WebGL in software (SwiftShader), so this is the CPU-only
// laptop or VM case, where the compositor's work lands on the same cores as the model.
//
//   SLM_BASE_URL=http://127.0.0.1:8080 node bench/background-cost.mjs [seconds] > ../bench/results/web-background.json
//
// States: the hero with the pointer moving (the animation runs), the hero animating in the
// seconds before the idle timeout with no input, the hero left alone past the idle timeout
// (the scene holds still), the chat in view with the pointer moving (the
// hero is off screen: paused), reduced motion (one still frame) and about:blank.

import { readFileSync } from 'node:fs';
import { BASE_URL, launch } from '../tests/e2e/harness.mjs';

const seconds = Number(process.argv[2] ?? 5);

async function processCpu(browserCdp) {
  const { processInfo } = await browserCdp.send('SystemInfo.getProcessInfo');
  let total = 0;
  let gpu = 0;
  for (const p of processInfo) {
    total += p.cpuTime;
    if (p.type === 'GPU') gpu += p.cpuTime;
  }
  return { total, gpu };
}

async function measure(browser, browserCdp, { url = BASE_URL + '/', reducedMotion = 'no-preference', scrollTo = null, pointer = true, settle = 1000, window = seconds }) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 900 }, reducedMotion });
  const page = await context.newPage();
  await page.goto(url);
  if (scrollTo) await page.locator(scrollTo).scrollIntoViewIfNeeded();
  await page.waitForTimeout(settle);
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const metrics = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const frames = async () => (url === 'about:blank' ? 0 : Number(await page.locator('#bg').getAttribute('data-frames')));
  const m0 = await metrics();
  const f0 = await frames();
  const c0 = await processCpu(browserCdp);
  const t0 = Date.now();
  const end = t0 + window * 1000;
  let x = 0;
  while (Date.now() < end) {
    if (pointer) {
      x = (x + 37) % 1366;
      await page.mouse.move(x, 300 + (x % 200));
    }
    await page.waitForTimeout(50);
  }
  const elapsed = (Date.now() - t0) / 1000;
  const c1 = await processCpu(browserCdp);
  const m1 = await metrics();
  const f1 = await frames();
  const out = {
    cpu_percent_of_one_core: Number((((c1.total - c0.total) / elapsed) * 100).toFixed(1)),
    gpu_process_percent: Number((((c1.gpu - c0.gpu) / elapsed) * 100).toFixed(1)),
    main_thread_task_ms_per_s: Number((((m1.TaskDuration - m0.TaskDuration) * 1000) / elapsed).toFixed(1)),
    frames_per_s: Number(((f1 - f0) / elapsed).toFixed(1)),
  };
  if (url !== 'about:blank') {
    out.motion = await page.locator('#bg').getAttribute('data-motion');
    out.quality = await page.locator('#bg').getAttribute('data-quality');
  }
  await context.close();
  return out;
}

const cpuModel = (() => {
  try {
    return readFileSync('/proc/cpuinfo', 'utf8').match(/model name\s*:\s*(.*)/)?.[1] ?? null;
  } catch {
    return null;
  }
})();

const browser = await launch();
try {
  const browserCdp = await browser.newBrowserCDPSession();
  const result = {
    benchmark: 'web-background-cost',
    seconds,
    viewport: '1366x900',
    renderer: 'headless chromium, software WebGL (SwiftShader)',
    cpu: cpuModel,
    measured: 'CPU time of all browser processes (CDP SystemInfo.getProcessInfo), % of one core',
    hero_pointer_moving: await measure(browser, browserCdp, {}),
    // Within the 10 s before the scene holds still: animating with nobody moving the pointer.
    hero_animating_no_input: await measure(browser, browserCdp, { pointer: false, window: Math.min(seconds, 8) }),
    hero_idle: await measure(browser, browserCdp, { pointer: false, settle: 11_000 }),
    chat_in_view_pointer_moving: await measure(browser, browserCdp, { scrollTo: '#chat' }),
    reduced_motion: await measure(browser, browserCdp, { reducedMotion: 'reduce' }),
    about_blank: await measure(browser, browserCdp, { url: 'about:blank', pointer: false }),
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  await browser.close();
}
