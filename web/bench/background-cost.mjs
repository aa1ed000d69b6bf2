// Measures what the WebGL background costs the page's main thread: Chromium's
// own TaskDuration/ScriptDuration metrics over a fixed window with the
// animation on, compared with reduced motion (one still frame). Prints JSON.
// Headless Chromium renders WebGL in software (SwiftShader), so this is a
// pessimistic stand-in for a modest laptop without a GPU.
//
//   SLM_BASE_URL=http://127.0.0.1:8080 node bench/background-cost.mjs [seconds] > ../bench/web-background.json

import { BASE_URL, launch } from '../tests/e2e/harness.mjs';

const seconds = Number(process.argv[2] ?? 5);

async function measure(browser, reducedMotion) {
  const context = await browser.newContext({ viewport: { width: 1366, height: 860 }, reducedMotion });
  const page = await context.newPage();
  await page.goto(BASE_URL + '/');
  await page.waitForTimeout(1000); // let the page settle after load
  const cdp = await context.newCDPSession(page);
  await cdp.send('Performance.enable');
  const read = async () => Object.fromEntries((await cdp.send('Performance.getMetrics')).metrics.map((m) => [m.name, m.value]));
  const frames = async () => Number(await page.locator('#bg').getAttribute('data-frames'));
  const before = await read();
  const f0 = await frames();
  // Move the pointer the whole time, as a visitor would.
  const end = Date.now() + seconds * 1000;
  let x = 0;
  while (Date.now() < end) {
    x = (x + 37) % 1366;
    await page.mouse.move(x, 300 + (x % 200));
    await page.waitForTimeout(50);
  }
  const after = await read();
  const f1 = await frames();
  const quality = await page.locator('#bg').getAttribute('data-quality');
  await context.close();
  const per = (name) => Number((((after[name] - before[name]) * 1000) / seconds).toFixed(1));
  return {
    quality,
    task_ms_per_s: per('TaskDuration'),
    script_ms_per_s: per('ScriptDuration'),
    layout_ms_per_s: per('LayoutDuration'),
    frames_per_s: Number(((f1 - f0) / seconds).toFixed(1)),
  };
}

const browser = await launch();
try {
  const animated = await measure(browser, 'no-preference');
  const still = await measure(browser, 'reduce');
  console.log(
    JSON.stringify(
      {
        benchmark: 'web-background-main-thread-cost',
        seconds,
        viewport: '1366x860',
        renderer: 'headless chromium, software WebGL',
        animated,
        reduced_motion: still,
      },
      null,
      2,
    ),
  );
} finally {
  await browser.close();
}
