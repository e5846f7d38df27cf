// PartScope viewer, payload.js: decoding what the server sends (mesh, parts,
// ladder, value). The format is written down once, in webapp/payload.py.

const Payload = (() => {
  function bytes(b64) {
    const bin = atob(b64);
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out;
  }

  async function inflate(b64) {
    const stream = new Blob([bytes(b64)]).stream().pipeThrough(new DecompressionStream('deflate'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  }

  // "#rrggbb" per part ("" hidden) -> RGBA bytes, alpha 0 for a hidden part
  function rgba(colors) {
    const out = new Uint8Array(Math.max(colors.length, 1) * 4);
    colors.forEach((hex, k) => {
      if (!hex) return;
      const n = parseInt(hex.slice(1), 16);
      out.set([(n >> 16) & 255, (n >> 8) & 255, n & 255, 255], k * 4);
    });
    return out;
  }

  // a "parts" payload -> {scale, nParts, labels (Int32Array, one part per face), rgba,
  // colors, faces, share, names}
  async function parts(entry, nFaces) {
    const raw = await inflate(entry.labels);
    const ids = entry.dtype === 'i4' ? new Int32Array(raw.buffer) : new Int16Array(raw.buffer);
    if (ids.length !== nFaces) throw new Error(`labels for ${ids.length} faces, the mesh has ${nFaces}`);
    return { scale: entry.scale, nParts: entry.n_parts, labels: Int32Array.from(ids), rgba: rgba(entry.colors), colors: entry.colors,
      faces: entry.faces, share: entry.share, names: entry.names || [] };
  }

  // one bit per face, little-endian bytes -> Uint8Array of 0/1
  function bits(b64, nFaces) {
    const packed = bytes(b64);
    const out = new Uint8Array(nFaces);
    for (let f = 0; f < nFaces; f++) out[f] = (packed[f >> 3] >> (f & 7)) & 1;
    return out;
  }

  function mesh(m) {
    return { key: m.key, nFaces: m.n_faces, radius: m.radius || 0.87,
      positions: new Float32Array(bytes(m.positions).buffer), faces: new Uint32Array(bytes(m.faces).buffer),
      colors: m.colors ? bytes(m.colors) : null, color: m.color || [200, 200, 200],
      uv: m.uv ? new Float32Array(bytes(m.uv).buffer) : null,
      material: m.material ? new Int16Array(bytes(m.material).buffer) : null, textures: m.textures || [] };
  }

  const scaleKey = (s) => Number(s).toFixed(3);

  return { parts, bits, mesh, scaleKey };
})();
