// PartScope viewer, painting.js: the parts painted on the model. The part of
// every face, the colour of every part and the selection live in data
// textures (TEX_W texels a row) that the shaders of scene.js read.

function createPainting(gl) {
  const units = { uLabels: 1, uPalette: 2, uSel: 3 };
  let labelTex = null, paletteTex = null, selTex = null, rows = 0, nFaces = 0;
  let hasLabels = false, hasSel = false;

  function texture(internal, format, type, width, height, data) {
    const tex = gl.createTexture();
    gl.bindTexture(gl.TEXTURE_2D, tex);
    gl.texImage2D(gl.TEXTURE_2D, 0, internal, width, height, 0, format, type, data);
    for (const p of [gl.TEXTURE_MIN_FILTER, gl.TEXTURE_MAG_FILTER]) gl.texParameteri(gl.TEXTURE_2D, p, gl.NEAREST);
    return tex;
  }

  function free() {
    [labelTex, paletteTex, selTex].forEach((t) => t && gl.deleteTexture(t));
    labelTex = paletteTex = selTex = null;
    hasLabels = hasSel = false;
  }

  // a new mesh of n faces: nothing painted yet
  function reset(n) {
    free();
    nFaces = n;
    rows = Math.max(1, Math.ceil(n / TEX_W));
    labelTex = texture(gl.R32I, gl.RED_INTEGER, gl.INT, TEX_W, rows, new Int32Array(TEX_W * rows).fill(-1));
    selTex = texture(gl.R32I, gl.RED_INTEGER, gl.INT, TEX_W, rows, new Int32Array(TEX_W * rows));
    paletteTex = texture(gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, TEX_W, 1, new Uint8Array(TEX_W * 4));
  }

  // parts: Payload.parts(..., padded to TEX_W * rows)
  function show(parts) {
    if (!labelTex) return;
    gl.bindTexture(gl.TEXTURE_2D, labelTex);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RED_INTEGER, gl.INT, parts.labels, 0);
    const prow = Math.max(1, Math.ceil(parts.rgba.length / 4 / TEX_W));
    const pal = new Uint8Array(TEX_W * prow * 4);
    pal.set(parts.rgba);
    gl.deleteTexture(paletteTex);
    paletteTex = texture(gl.RGBA8, gl.RGBA, gl.UNSIGNED_BYTE, TEX_W, prow, pal);
    hasLabels = true;
  }

  function unshow() { hasLabels = false; }

  // mask: Uint8Array (one 0/1 per face) or null; the faces not in it are dimmed
  function select(mask) {
    if (!selTex) return;
    const sel = new Int32Array(TEX_W * rows);
    if (mask) sel.set(mask.subarray(0, nFaces));
    gl.bindTexture(gl.TEXTURE_2D, selTex);
    gl.texSubImage2D(gl.TEXTURE_2D, 0, 0, 0, TEX_W, rows, gl.RED_INTEGER, gl.INT, sel);
    hasSel = !!mask;
  }

  function bind(program) {
    const tex = { uLabels: labelTex, uPalette: paletteTex, uSel: selTex };
    for (const [name, unit] of Object.entries(units)) {
      gl.activeTexture(gl.TEXTURE0 + unit);
      gl.bindTexture(gl.TEXTURE_2D, tex[name]);
      gl.uniform1i(program.uni[name], unit);
    }
    gl.uniform1i(program.uni.uHasLabels, hasLabels ? 1 : 0);
    if (program.uni.uHasSel) gl.uniform1i(program.uni.uHasSel, hasSel ? 1 : 0);
  }

  return { reset, show, unshow, select, bind, free, get hasLabels() { return hasLabels; },
    get padded() { return TEX_W * rows; } };
}

// the faces in the part of `face` under `labels` (Int32Array), as 0/1 per face
function partOf(labels, face, nFaces) {
  const mask = new Uint8Array(nFaces);
  const part = labels[face];
  if (part < 0) return mask;
  for (let f = 0; f < nFaces; f++) mask[f] = labels[f] === part ? 1 : 0;
  return mask;
}
