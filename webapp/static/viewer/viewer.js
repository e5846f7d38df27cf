// PartScope viewer, viewer.js: wires the others. gr.HTML's js_on_load runs
// the joined scripts with element, props, watch, trigger and server in scope.
// The page holds what it needs to draw without the server: the mesh, the
// ladder of automatic parts (fetched as the server computes it), an edited
// list, the selection and the slider. The slider and a click redraw at once;
// the page then tells the server the scale it settled on and the face clicked.

const root = element.querySelector('.ps-viewer');
const canvas = root.querySelector('.ps-canvas');
const slider = root.querySelector('.ps-slider');
const buttons = Object.fromEntries([...root.querySelectorAll('[data-act]')].map((b) => [b.dataset.act, b]));
const legend = createLegend(root);
const EMPTY_NOTE = root.querySelector('.ps-note').textContent;
const scene = createScene(canvas);
if (!scene) {
  legend.stamp({ state: 'nogl' });
  legend.say('This browser cannot show 3D (WebGL2 is off or missing). Downloads still work; try an up-to-date ' +
    'Chrome, Firefox, Edge or Safari.');
  return;
}
const paint = createPainting(scene);
const picking = createPicking(scene, () => [paint.painted, view.look]);
const timings = { mesh_ms: null, input_at: null, drawn_at: null };  // for benchmarks

// what the page knows; ladder: {id, entries: Map scaleKey -> parts, complete}
const view = { scales: [], ladder: null, edited: null, selection: null, note: null, look: 'parts', hover: -1,
  shown: null, selKey: null, selCount: 0, told: null };

const sliderScale = () => (view.scales.length ? view.scales[Number(slider.value)] : null);
const atScale = () => (view.ladder ? view.ladder.entries.get(Payload.scaleKey(sliderScale())) : undefined);

// the selection now: [key, mask or null]; a clicked face's part follows the slider
function selectionNow() {
  const sel = view.selection;
  if (!sel) return ['', null];
  if (sel.mask) return ['bits', sel.mask];
  const at = atScale();
  return at ? [`${sel.face}@${Payload.scaleKey(at.scale)}`, partOf(at.labels, sel.face, scene.mesh.nFaces)] : ['', null];
}

function frame() { scene.draw(paint.painted, view.look, view.hover); }

// draw what the page holds now, then say so (legend, data attributes)
function render() {
  const wanted = view.edited || atScale();
  const waiting = !wanted && !!view.ladder;
  const parts = wanted || (waiting ? view.shown : null);
  if (parts !== view.shown) {
    if (parts) paint.show(parts); else paint.unshow();
    view.shown = parts;
    picking.invalidate();
  }
  const [selKey, mask] = selectionNow();
  if (selKey !== view.selKey) {
    paint.select(mask);
    view.selKey = selKey;
    view.selCount = mask ? mask.reduce((a, b) => a + b, 0) : 0;
  }
  frame();
  timings.drawn_at = performance.now();
  const scale = view.edited ? sliderScale() : parts && parts.scale;
  legend.describe(parts && { nParts: parts.nParts, edited: !!view.edited, scale: sliderScale() ?? scale,
    note: view.edited ? null : view.note, selected: view.selCount, waiting });
  legend.stamp({ state: !scene.mesh.key ? 'empty' : !parts ? 'mesh' : view.note && !view.edited ? 'first-parts' : 'parts',
    scale: parts ? Number(scale).toFixed(1) : null, parts: parts ? parts.nParts : null,
    edited: parts ? !!view.edited : null, selected: parts ? view.selCount : null, look: view.look,
    ready: view.ladder ? view.ladder.entries.size : null, waiting: waiting ? 'true' : null,
    faces: scene.mesh.key ? scene.mesh.nFaces : null, key: scene.mesh.key });
  buttons.look.disabled = !parts;
  buttons.reset.disabled = !scene.mesh.key;
  buttons.paint.disabled = !parts || (!!view.note && !view.edited);
  if (view.ladder) legend.marks(view.scales, new Set(view.ladder.entries.keys()));
}

let drawQueued = false;
function redraw() {
  if (drawQueued) return;
  drawQueued = true;
  requestAnimationFrame(() => { drawQueued = false; frame(); });
}

// ---------------------------------------------------------------- the ladder
function adoptLadder(v) {
  view.scales = v.scales || [];
  view.ladder = v.ladder ? { id: v.ladder, entries: new Map(), complete: false } : null;
  slider.max = String(Math.max(view.scales.length - 1, 0));
  const near = view.scales.reduce((best, s, i) => (Math.abs(s - v.scale) < Math.abs(view.scales[best] - v.scale) ? i : best), 0);
  slider.value = String(near);
  slider.disabled = !view.ladder;
  view.told = sliderScale();
  if (view.ladder) poll(view.ladder);
}

// fetch the ladder's scales as the server computes them, until it is complete
// or the page shows another ladder (a new model, or the field's parts)
async function poll(ladder) {
  const nFaces = scene.mesh.nFaces;
  while (view.ladder === ladder && !ladder.complete) {
    try {
      const reply = await server.viewer_ladder({ ladder: ladder.id, have: [...ladder.entries.values()].map((p) => p.scale) });
      if (view.ladder !== ladder || !reply) return;
      for (const entry of reply.entries) {
        const parts = await Payload.parts(entry, nFaces);
        if (view.ladder !== ladder) return;
        const k = Payload.scaleKey(entry.scale);
        if (!ladder.entries.has(k)) ladder.entries.set(k, parts);
      }
      ladder.complete = reply.complete;
      render();
    } catch (err) {  // the connection dropped a moment: ask again
      if (view.ladder !== ladder) return;
      console.warn('PartScope viewer: the ladder', err);
      await new Promise((done) => setTimeout(done, 2000));
    }
  }
}

// ---------------------------------------------------------------- the value
async function sync() {
  const v = props.value;
  if (!v || !v.key) return clear();
  if (v.key !== scene.mesh.key) {
    legend.stamp({ state: 'loading' });
    legend.say('Loading the model…');
    const t0 = performance.now();
    const m = await server.viewer_mesh(v.key);
    if (props.value !== v) return;  // a newer value came meanwhile; its own sync follows
    if (!m || m.key !== v.key) throw new Error('the server no longer has this model; open it again');
    await scene.load(Payload.mesh(m));
    paint.reset(m.n_faces);
    Object.assign(view, { ladder: null, shown: null, selKey: null, hover: -1 });
    picking.invalidate();
    legend.say('');
    timings.mesh_ms = performance.now() - t0;
  }
  if ((v.ladder || null) !== (view.ladder ? view.ladder.id : null) || !view.scales.length) adoptLadder(v);
  const parts = v.parts ? await Payload.parts(v.parts, scene.mesh.nFaces) : null;
  if (props.value !== v) return;
  view.note = v.note;
  view.edited = v.edited ? parts : null;
  const k = parts && Payload.scaleKey(parts.scale);
  if (!v.edited && parts && view.ladder && !view.ladder.entries.has(k)) view.ladder.entries.set(k, parts);
  const sel = v.selection;
  view.selection = !sel ? null : sel.bits ? { mask: Payload.bits(sel.bits, scene.mesh.nFaces) } : { face: sel.face };
  render();
}

function clear() {
  scene.free();
  paint.free();
  Object.assign(view, { scales: [], ladder: null, edited: null, selection: null, note: null, shown: null,
    selKey: null, hover: -1, told: null });
  slider.disabled = true;
  legend.hideTip();
  legend.say(EMPTY_NOTE);
  legend.marks([], new Set());
  render();
}

// ---------------------------------------------------------------- input
function tell() {
  const scale = sliderScale();
  if (scale === null || scale === view.told || !view.ladder) return;
  view.told = scale;
  trigger('scale_change', { scale });
}
let tellTimer = null;
slider.addEventListener('input', () => {
  timings.input_at = performance.now();
  render();
  clearTimeout(tellTimer);
  tellTimer = setTimeout(tell, 150);
});
slider.addEventListener('change', () => { clearTimeout(tellTimer); tell(); });

function hover(x, y) {
  const face = picking.pick(x, y);
  const p = view.shown, part = face >= 0 && p ? p.labels[face] : -1;
  if (part < 0) legend.hideTip();
  else legend.showTip(part, { color: p.colors[part], name: p.names[part], faces: p.faces[part], share: p.share[part] }, x, y);
  if (view.hover !== part) { view.hover = part; redraw(); }
}

attachControls(root, canvas, scene.camera, {
  moved() { picking.invalidate(); legend.hideTip(); redraw(); },
  hover,
  leave() { legend.hideTip(); if (view.hover !== -1) { view.hover = -1; redraw(); } },
  click(x, y, shift) {
    const face = picking.pick(x, y);
    if (face < 0) return;
    legend.stamp({ clickedFace: face });
    if (!shift && view.shown) { view.selection = { face }; render(); }
    trigger('face_click', { face, part: view.shown ? view.shown.labels[face] : -1, scale: sliderScale(), shift,
      camera: scene.camera.info() });
  },
  look() { if (!buttons.look.disabled) buttons.look.click(); },
  reset() { if (scene.mesh.key) scene.camera.home(); },
});

buttons.look.addEventListener('click', () => {
  view.look = view.look === 'parts' ? 'original' : 'parts';
  buttons.look.textContent = view.look === 'parts' ? 'Original look' : 'Part colors';
  picking.invalidate();
  render();
});
buttons.reset.addEventListener('click', () => { if (scene.mesh.key) { scene.camera.home(); picking.invalidate(); redraw(); } });
buttons.paint.addEventListener('click', () => { if (scene.camera.ready) trigger('paint_view', { camera: scene.camera.info() }); });

// the keys of every editor, anywhere on the page but in a text field (which keeps its own): Ctrl+Z
// (Cmd+Z) undoes the last edit, Ctrl+Shift+Z or Ctrl+Y redoes it, Escape clears the selection, Delete
// deletes the parts to edit (undoable). They press the page's buttons; listened for once a page,
// however often the viewer is mounted.
const EDIT_KEYS = [
  [(e, key) => (e.ctrlKey || e.metaKey) && !e.shiftKey && key === 'z', 'undo'],
  [(e, key) => (e.ctrlKey || e.metaKey) && ((e.shiftKey && key === 'z') || key === 'y'), 'redo'],
  [(e, key) => !e.ctrlKey && !e.metaKey && key === 'escape', 'clear-selection'],
  [(e, key) => !e.ctrlKey && !e.metaKey && key === 'delete', 'delete'],
];
if (!window.partscopeEditKeys) {
  window.partscopeEditKeys = true;
  document.addEventListener('keydown', (e) => {
    const key = e.key.toLowerCase(), found = !e.altKey && EDIT_KEYS.find(([matches]) => matches(e, key));
    if (!found || (e.target.closest && e.target.closest('input, textarea, select, [contenteditable=true]'))) return;
    const holder = document.getElementById(found[1]);
    const button = holder && (holder.tagName === 'BUTTON' ? holder : holder.querySelector('button'));
    if (!button || button.disabled) return;
    e.preventDefault();
    button.click();
  });
}

canvas.addEventListener('webglcontextlost', (e) => {
  e.preventDefault();
  legend.stamp({ state: 'error' });
  legend.say('The browser dropped the 3D view (graphics memory ran out). Reload the page to see it again.');
});

new ResizeObserver(() => {
  const dpr = Math.min(window.devicePixelRatio || 1, 2);
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr)), h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w; canvas.height = h;
    picking.invalidate();
    redraw();
  }
}).observe(canvas);

let chain = Promise.resolve();
function schedule() {
  chain = chain.then(sync).catch((err) => {
    console.error('PartScope viewer:', err);
    legend.stamp({ state: 'error' });
    legend.say(`The viewer could not show this model (${err.message}).`);
  });
}
watch('value', schedule);
schedule();

// for the browser tests and benchmarks
root.partscope = {
  state: () => ({ meshKey: scene.mesh.key, faces: scene.mesh.nFaces, painted: paint.painted, look: view.look,
    parts: view.shown ? view.shown.nParts : 0, scale: sliderScale(), camera: scene.camera.ready ? scene.camera.info() : null }),
  pick: (x, y) => picking.pick(x, y),
  partOf: (face) => (view.shown && face >= 0 ? view.shown.labels[face] : -1),
  shown: () => (view.shown ? { labels: Array.from(view.shown.labels.subarray(0, scene.mesh.nFaces)),
    colors: view.shown.colors } : null),
  selected: () => { const [, mask] = selectionNow(); return mask ? [...mask.keys()].filter((f) => mask[f]) : []; },
  timings: () => ({ ...timings }),
  finish: () => { scene.finish(); return performance.now(); },
  redraw: () => frame(),
  ready: () => chain,
};
