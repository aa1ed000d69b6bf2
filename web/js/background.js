// Decorative WebGL background: a slowly turning disc of glowing points that
// leans towards the pointer and brightens while the model is writing. One draw
// call per frame at capped resolution and frame rate keeps it light on CPU.
// Falls back to a still CSS gradient without WebGL; draws one still frame when
// the visitor prefers reduced motion; stops drawing while the tab is hidden.
// State is mirrored on the canvas (data-renderer, data-motion, data-frames) so
// tests and styles can see what it is doing.

const POINTS = 2600;
// ~30 fps is plenty for slow ambient motion. Software WebGL (no GPU: SwiftShader, llvmpipe)
// composites every frame on the CPU, which then competes with the model: there the scene
// runs at 6 fps on a half-resolution canvas.
const FRAME_MS = { full: 1000 / 30, low: 1000 / 6 };
// Frames are paced by a timer, then drawn in the next animation frame (on average half a
// display frame later): a requestAnimationFrame kept pending makes the browser run a whole
// frame (style, paint, commit) at the display rate even when nothing is drawn.
const VSYNC_SLACK_MS = 8;
const RENDER_SCALE = { full: 1, low: 0.5 };
// With no pointer movement and no generation for this long, the scene holds still.
const IDLE_MS = 10_000;
const MAX_DPR = 1;
const SOFTWARE_RENDERER = /swiftshader|llvmpipe|softpipe|software/i;

const VERTEX = `
attribute vec4 aPoint; // radius, angle, height, seed
uniform float uTime;
uniform float uActivity;
uniform float uAspect;
uniform float uDpr;
uniform vec2 uTilt;
uniform vec2 uShift;
varying float vAlpha;
varying vec3 vColor;
void main() {
  float r = aPoint.x;
  float a = aPoint.y + uTime * (0.03 + 0.05 / (r + 0.35));
  float wave = sin(r * 7.0 - uTime * 1.3) * (0.035 + 0.06 * uActivity) * smoothstep(0.0, 0.6, r);
  vec3 p = vec3(r * cos(a), aPoint.z + wave, r * sin(a));
  float pitch = 1.05 + uTilt.y * 0.22;
  float yaw = uTilt.x * 0.35;
  p = vec3(p.x, p.y * cos(pitch) - p.z * sin(pitch), p.y * sin(pitch) + p.z * cos(pitch));
  p = vec3(p.x * cos(yaw) + p.z * sin(yaw), p.y, -p.x * sin(yaw) + p.z * cos(yaw));
  float depth = 3.2 - p.z;
  vec2 clip = p.xy * (2.6 / depth);
  clip.x /= max(uAspect, 0.6);
  gl_Position = vec4(clip + uShift, 0.0, 1.0);
  float twinkle = 0.75 + 0.25 * sin(uTime * (0.6 + aPoint.w * 1.7) + aPoint.w * 40.0);
  gl_PointSize = (1.6 + 2.8 * aPoint.w) * (1.0 + 0.35 * uActivity) * uDpr * (3.2 / depth);
  vAlpha = twinkle * (0.5 + 0.4 * uActivity) * (1.0 - smoothstep(1.1, 1.6, r));
  vColor = mix(vec3(0.66, 0.55, 0.98), vec3(0.18, 0.83, 0.75), smoothstep(0.15, 1.2, r));
  vColor = mix(vColor, vec3(1.0, 0.85, 0.6), 0.25 * uActivity * (1.0 - smoothstep(0.0, 0.5, r)));
}`;

const FRAGMENT = `
precision mediump float;
varying float vAlpha;
varying vec3 vColor;
void main() {
  float d = length(gl_PointCoord - 0.5);
  float glow = smoothstep(0.5, 0.0, d);
  gl_FragColor = vec4(vColor * glow * vAlpha, glow * vAlpha);
}`;

function compile(gl, type, source) {
  const shader = gl.createShader(type);
  gl.shaderSource(shader, source);
  gl.compileShader(shader);
  if (!gl.getShaderParameter(shader, gl.COMPILE_STATUS)) {
    const log = gl.getShaderInfoLog(shader);
    gl.deleteShader(shader);
    throw new Error(`background shader failed to compile: ${log}`);
  }
  return shader;
}

function buildPoints() {
  // Deterministic layout (fixed LCG) so every visit and screenshot looks alike.
  let s = 1234567;
  const rand = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 4294967296);
  const data = new Float32Array(POINTS * 4);
  for (let i = 0; i < POINTS; i++) {
    const arm = i % 3;
    const r = Math.pow(rand(), 0.65) * 1.5 + 0.05;
    const angle = arm * ((Math.PI * 2) / 3) + r * 2.4 + (rand() - 0.5) * 0.9;
    const height = (rand() - 0.5) * 0.12 * (1.4 - r * 0.5);
    data.set([r, angle, height, rand()], i * 4);
  }
  return data;
}

function rendererName(gl) {
  const ext = gl.getExtension('WEBGL_debug_renderer_info');
  return String(gl.getParameter(ext ? ext.UNMASKED_RENDERER_WEBGL : gl.RENDERER) ?? '');
}

function tryWebGL(canvas) {
  const options = { alpha: true, antialias: false, depth: false, powerPreference: 'low-power', premultipliedAlpha: true };
  try {
    return canvas.getContext('webgl', options) || canvas.getContext('experimental-webgl', options);
  } catch {
    return null;
  }
}

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{ reducedMotion: MediaQueryList }} opts
 */
export function createBackground(canvas, { reducedMotion, stage }) {
  const state = { activity: 0, target: 0, tilt: [0, 0], tiltTarget: [0, 0], frames: 0, raf: 0, timer: 0, last: 0, time: 0 };
  const running = () => state.raf !== 0 || state.timer !== 0;
  let gl = tryWebGL(canvas);
  let uniforms = null;
  let frameMs = FRAME_MS.full;
  let scale = RENDER_SCALE.full;
  // Animated only while `stage` (the hero) is on screen and someone is around.
  let onStage = true;
  let lastInput = performance.now();

  const setMotion = (m) => {
    canvas.dataset.motion = m;
  };
  const publishFrames = () => {
    canvas.dataset.frames = String(state.frames);
  };

  function fallback() {
    gl = null;
    stop();
    canvas.dataset.renderer = 'fallback';
    setMotion('off');
  }

  function setup() {
    const program = gl.createProgram();
    gl.attachShader(program, compile(gl, gl.VERTEX_SHADER, VERTEX));
    gl.attachShader(program, compile(gl, gl.FRAGMENT_SHADER, FRAGMENT));
    gl.linkProgram(program);
    if (!gl.getProgramParameter(program, gl.LINK_STATUS)) {
      throw new Error(`background program failed to link: ${gl.getProgramInfoLog(program)}`);
    }
    gl.useProgram(program);
    const buffer = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buffer);
    gl.bufferData(gl.ARRAY_BUFFER, buildPoints(), gl.STATIC_DRAW);
    const loc = gl.getAttribLocation(program, 'aPoint');
    gl.enableVertexAttribArray(loc);
    gl.vertexAttribPointer(loc, 4, gl.FLOAT, false, 0, 0);
    gl.enable(gl.BLEND);
    gl.blendFunc(gl.ONE, gl.ONE); // additive glow
    gl.clearColor(0, 0, 0, 0);
    uniforms = Object.fromEntries(
      ['uTime', 'uActivity', 'uAspect', 'uDpr', 'uTilt', 'uShift'].map((n) => [n, gl.getUniformLocation(program, n)]),
    );
  }

  function resize() {
    const dpr = Math.min(window.devicePixelRatio || 1, MAX_DPR) * scale;
    const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
    const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
    if (canvas.width !== w || canvas.height !== h) {
      canvas.width = w;
      canvas.height = h;
    }
    return dpr;
  }

  function draw() {
    const dpr = resize();
    gl.viewport(0, 0, canvas.width, canvas.height);
    gl.clear(gl.COLOR_BUFFER_BIT);
    const aspect = canvas.width / canvas.height;
    gl.uniform1f(uniforms.uTime, state.time);
    gl.uniform1f(uniforms.uActivity, state.activity);
    gl.uniform1f(uniforms.uAspect, aspect);
    gl.uniform1f(uniforms.uDpr, dpr);
    gl.uniform2f(uniforms.uTilt, state.tilt[0], state.tilt[1]);
    // Wide screens: sit to the right of the hero text; narrow: centred behind it.
    gl.uniform2f(uniforms.uShift, aspect > 1.2 ? 0.38 : 0, aspect > 1.2 ? 0.05 : 0.2);
    gl.drawArrays(gl.POINTS, 0, POINTS);
    state.frames += 1;
    if (state.frames % 15 === 1) publishFrames();
  }

  function tick(now) {
    state.raf = 0;
    const dt = now - state.last;
    state.last = now;
    if (now - lastInput > IDLE_MS && state.target === 0 && state.activity < 0.01) {
      stop();
      setMotion('idle');
      return;
    }
    const step = Math.min(dt, 200) / 1000;
    state.time += step * (1 + state.activity * 0.8);
    const ease = 1 - Math.exp(-step * 3);
    state.activity += (state.target - state.activity) * ease;
    state.tilt[0] += (state.tiltTarget[0] - state.tilt[0]) * ease;
    state.tilt[1] += (state.tiltTarget[1] - state.tilt[1]) * ease;
    draw();
    state.timer = setTimeout(() => {
      state.timer = 0;
      state.raf = requestAnimationFrame(tick);
    }, frameMs - VSYNC_SLACK_MS);
  }

  function start() {
    if (!gl || running() || document.hidden || reducedMotion.matches) return;
    state.last = performance.now();
    state.raf = requestAnimationFrame(tick);
    setMotion('on');
  }

  function stop() {
    cancelAnimationFrame(state.raf);
    clearTimeout(state.timer);
    state.raf = 0;
    state.timer = 0;
    publishFrames();
  }

  function refresh() {
    if (!gl) return;
    if (reducedMotion.matches) {
      stop();
      draw(); // one still frame of the same scene
      publishFrames();
      setMotion('off');
    } else if (document.hidden || !onStage) {
      stop();
      setMotion('paused');
    } else {
      start();
    }
  }

  if (!gl) {
    fallback();
  } else {
    try {
      setup();
      canvas.dataset.renderer = 'webgl';
      const quality = SOFTWARE_RENDERER.test(rendererName(gl)) ? 'low' : 'full';
      frameMs = FRAME_MS[quality];
      scale = RENDER_SCALE[quality];
      canvas.dataset.quality = quality;
    } catch (err) {
      console.warn(err.message);
      fallback();
    }
  }

  const wake = () => {
    lastInput = performance.now();
    if (gl && !running() && canvas.dataset.motion === 'idle') refresh();
  };
  const onPointer = (e) => {
    state.tiltTarget = [(e.clientX / window.innerWidth) * 2 - 1, (e.clientY / window.innerHeight) * 2 - 1];
    wake();
  };
  if (stage && 'IntersectionObserver' in window) {
    new IntersectionObserver(([entry]) => {
      if (entry.isIntersecting === onStage) return;
      onStage = entry.isIntersecting;
      lastInput = performance.now();
      refresh();
    }).observe(stage);
  }
  const onResize = () => {
    if (gl && !running()) refresh();
  };
  canvas.addEventListener('webglcontextlost', (e) => {
    e.preventDefault();
    fallback();
  });
  window.addEventListener('pointermove', onPointer, { passive: true });
  window.addEventListener('resize', onResize, { passive: true });
  document.addEventListener('visibilitychange', refresh);
  reducedMotion.addEventListener('change', refresh);
  refresh();

  return {
    /** Generation running or not: drives the brightness and speed. */
    setActive(active) {
      state.target = active ? 1 : 0;
      wake();
    },
    /** A token arrived: a small kick that decays back to the target. */
    pulse() {
      state.activity = Math.min(1.4, state.activity + 0.04);
    },
  };
}
