// PartScope viewer, painting.js: the parts painted on the model. Every
// corner of a face gets its part's colour and id as vertex attributes 4 and
// 5 of the mesh (scene.js); the colour's alpha says shown (255), dimmed by a
// selection (128) or hidden (0). Filled in the page, in one pass over the
// faces, when the parts or the selection change.

function createPainting(scene) {
  const { gl } = scene;
  let colorBuf = null, partBuf = null, colors = null, packed = null, ids = null, nFaces = 0;
  let shown = null, mask = null;

  function free() {
    [colorBuf, partBuf].forEach((b) => b && gl.deleteBuffer(b));
    colorBuf = partBuf = colors = packed = ids = shown = mask = null;
  }

  function buffer(data, setup) {
    const buf = gl.createBuffer();
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferData(gl.ARRAY_BUFFER, data, gl.DYNAMIC_DRAW);
    setup();
    return buf;
  }

  // a new mesh of n faces: nothing painted yet
  function reset(n) {
    free();
    nFaces = n;
    colors = new Uint8Array(n * 12);
    packed = new Uint32Array(colors.buffer);
    ids = new Int32Array(n * 3);
    gl.bindVertexArray(scene.mesh.vao);
    colorBuf = buffer(colors, () => gl.vertexAttribPointer(4, 4, gl.UNSIGNED_BYTE, true, 0, 0));
    partBuf = buffer(ids, () => gl.vertexAttribIPointer(5, 1, gl.INT, 0, 0));
    enable(false);
  }

  function enable(on) {
    gl.bindVertexArray(scene.mesh.vao);
    for (const loc of [4, 5]) on ? gl.enableVertexAttribArray(loc) : gl.disableVertexAttribArray(loc);
    gl.bindVertexArray(null);
  }

  function upload(buf, data) {
    gl.bindBuffer(gl.ARRAY_BUFFER, buf);
    gl.bufferSubData(gl.ARRAY_BUFFER, 0, data);
  }

  function fillColors() {
    const labels = shown.labels, palette = new Uint32Array(shown.rgba.buffer, shown.rgba.byteOffset, shown.rgba.length / 4);
    for (let f = 0, v = 0; f < nFaces; f++, v += 3) {
      const p = labels[f];
      let c = p >= 0 ? palette[p] : 0;
      if (mask && !mask[f] && c) c = (c & 0x00ffffff) | 0x80000000;  // alpha 128: dimmed
      packed[v] = c; packed[v + 1] = c; packed[v + 2] = c;
    }
    upload(colorBuf, colors);
  }

  // parts: Payload.parts(...)
  function show(parts) {
    if (!colorBuf) return;
    shown = parts;
    for (let f = 0, v = 0; f < nFaces; f++, v += 3) ids[v] = ids[v + 1] = ids[v + 2] = parts.labels[f];
    upload(partBuf, ids);
    fillColors();
    enable(true);
  }

  function unshow() {
    shown = null;
    if (colorBuf) enable(false);
  }

  // m: Uint8Array (one 0/1 per face) or null; the faces not in it are dimmed
  function select(m) {
    mask = m;
    if (shown && colorBuf) fillColors();
  }

  return { reset, show, unshow, select, free, get painted() { return shown !== null; } };
}

// the faces in the part of `face` under `labels` (Int32Array), as 0/1 per face
function partOf(labels, face, nFaces) {
  const mask = new Uint8Array(nFaces);
  const part = labels[face];
  if (part < 0) return mask;
  for (let f = 0; f < nFaces; f++) mask[f] = labels[f] === part ? 1 : 0;
  return mask;
}
