// PartScope viewer, controls.js: input on the canvas. Drag orbits, right- or
// shift-drag pans, the wheel or a pinch zooms; with the view focused, arrows
// orbit, + and - zoom, r resets, o switches the look. A press that hardly
// moves is a click; a pointer that moves without a press hovers.
// on: {moved(), hover(x, y), leave(), click(x, y, shift), look(), reset()}

function attachControls(root, canvas, camera, on) {
  const pointers = new Map();
  let press = null, hoverAt = null, hoverQueued = false;

  const local = (e) => {
    const r = canvas.getBoundingClientRect();
    return [e.clientX - r.left, e.clientY - r.top];
  };

  function drag(e, at, prev) {
    const dx = at[0] - prev[0], dy = at[1] - prev[1];
    if (press) press.travel += Math.abs(dx) + Math.abs(dy);
    if (pointers.size === 2) {
      const [a, b] = [...pointers.values()];
      const other = a === at ? b : a;
      const before = Math.hypot(prev[0] - other[0], prev[1] - other[1]);
      const after = Math.hypot(at[0] - other[0], at[1] - other[1]);
      if (before > 0 && after > 0) camera.zoom(before / after);
    } else if (press && (press.button === 2 || press.button === 1 || e.shiftKey)) {
      camera.pan(dx, dy);
    } else {
      camera.orbit(dx * 0.008, dy * 0.008);
    }
    on.moved();
  }

  canvas.addEventListener('contextmenu', (e) => e.preventDefault());
  canvas.addEventListener('pointerdown', (e) => {
    canvas.setPointerCapture(e.pointerId);
    pointers.set(e.pointerId, local(e));
    press = pointers.size === 1 ? { at: local(e), button: e.button, travel: 0 } : null;
  });
  canvas.addEventListener('pointermove', (e) => {
    const at = local(e);
    if (!pointers.has(e.pointerId)) {
      hoverAt = at;
      if (!hoverQueued) {
        hoverQueued = true;
        requestAnimationFrame(() => { hoverQueued = false; if (hoverAt) on.hover(...hoverAt); });
      }
      return;
    }
    const prev = pointers.get(e.pointerId);
    pointers.set(e.pointerId, at);
    if (camera.ready) drag(e, at, prev);
  });
  function release(e) {
    if (!pointers.has(e.pointerId)) return;
    pointers.delete(e.pointerId);
    if (press && press.travel < 5 && e.type === 'pointerup') on.click(...press.at, e.shiftKey);
    if (pointers.size === 0) press = null;
  }
  canvas.addEventListener('pointerup', release);
  canvas.addEventListener('pointercancel', release);
  canvas.addEventListener('pointerleave', () => { hoverAt = null; on.leave(); });
  canvas.addEventListener('wheel', (e) => {
    if (!camera.ready) return;
    e.preventDefault();
    camera.zoom(Math.exp(e.deltaY * 0.0012));
    on.moved();
  }, { passive: false });

  root.addEventListener('keydown', (e) => {
    if (!camera.ready || e.target !== root) return;
    const step = 0.12;
    const keys = {
      ArrowLeft: () => camera.orbit(-step, 0), ArrowRight: () => camera.orbit(step, 0),
      ArrowUp: () => camera.orbit(0, step), ArrowDown: () => camera.orbit(0, -step),
      '+': () => camera.zoom(1 / 1.15), '=': () => camera.zoom(1 / 1.15), '-': () => camera.zoom(1.15),
      r: () => on.reset(), o: () => on.look(),
    };
    if (!keys[e.key]) return;
    e.preventDefault();
    keys[e.key]();
    on.moved();
  });
}
