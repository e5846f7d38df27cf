// PartScope viewer, legend.js: what the viewer says in words. The legend
// under the model, the note over an empty or broken view, the hover tip, the
// slider's readout and its ticks (a filled tick: that scale's parts are here),
// and the data attributes browser checks read (stamped after a frame is drawn).

function createLegend(root) {
  const legend = root.querySelector('.ps-legend');
  const note = root.querySelector('.ps-note');
  const tip = root.querySelector('.ps-tip');
  const count = root.querySelector('.ps-count');
  const ticks = root.querySelector('.ps-ticks');

  function plural(n, word) { return `${n.toLocaleString()} ${word}${n === 1 ? '' : 's'}`; }

  // shown: {nParts, edited, scale, note, selected, waiting}
  function describe(shown) {
    if (!shown) { legend.textContent = ''; count.textContent = ''; return; }
    const scale = Number(shown.scale).toFixed(1);
    const what = shown.edited ? `${plural(shown.nParts, 'part')} (edited list)` : plural(shown.nParts, 'part');
    legend.textContent = what + (shown.note ? ` · ${shown.note}` : '') +
      (shown.selected ? ` · ${plural(shown.selected, 'face')} selected` : '') +
      (shown.waiting ? ` · computing the parts at scale ${scale}…` : '');
    count.textContent = `${what} · scale ${scale}`;
  }

  function say(text) { note.textContent = text || ''; }

  function showTip(part, info, cssX, cssY) {
    tip.replaceChildren();
    const head = document.createElement('div');
    const sw = document.createElement('span');
    sw.className = 'ps-sw';
    sw.style.background = info.color || '#888888';
    const title = document.createElement('b');
    title.textContent = info.name ? `${info.name} (part ${part})` : `Part ${part}`;
    head.append(sw, title);
    const body = document.createElement('div');
    body.textContent = `${plural(info.faces, 'face')} · ${(100 * (info.share || 0)).toFixed(1)}% of surface`;
    tip.append(head, body);
    tip.hidden = false;
    const w = root.clientWidth, tw = tip.offsetWidth, th = tip.offsetHeight;
    tip.style.left = `${Math.min(cssX + 14, w - tw - 6)}px`;
    tip.style.top = `${Math.max(cssY - th - 10, 6)}px`;
    root.dataset.hoverPart = String(part);
  }

  function hideTip() { tip.hidden = true; delete root.dataset.hoverPart; }

  // scales: the ladder; ready: Set of Payload.scaleKey of those the page holds
  function marks(scales, ready) {
    if (ticks.childElementCount !== scales.length) {
      ticks.replaceChildren(...scales.map(() => document.createElement('span')));
    }
    scales.forEach((s, i) => ticks.children[i].classList.toggle('ready', ready.has(Payload.scaleKey(s))));
  }

  // data attributes: null or undefined removes one
  function stamp(attrs) {
    for (const [name, value] of Object.entries(attrs)) {
      if (value === null || value === undefined) delete root.dataset[name];
      else root.dataset[name] = String(value);
    }
  }

  return { describe, say, showTip, hideTip, marks, stamp };
}
