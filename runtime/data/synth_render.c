/* Rendering a synthetic radiograph from its truth.
 *
 * The picture is built as a "brightness" map b (0 = air outside the body, ~0.75 = mediastinum, more for
 * bone) evaluated analytically per pixel in the normalised frame, then vessels and devices are stroked on
 * top, then the film look (blur, exposure curve, grain) is applied. Findings act where the anatomy says:
 * fluid, consolidation and collapse replace lung air, a pneumothorax replaces lung with pleural air and
 * removes the vessel markings. Every edge is softened by at least a pixel so that 64x64 images alias little. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "data/synth_internal.h"

/* fmaxf/fminf without NaN handling: they stay inline instead of becoming library calls. */
static inline float fmx(float a, float b) { return a > b ? a : b; }
static inline float fmn(float a, float b) { return a < b ? a : b; }
static inline float clamp01(float x) { return x < 0.0f ? 0.0f : x > 1.0f ? 1.0f : x; }
static inline float sstep(float e0, float e1, float x) {
  float t = clamp01((x - e0) / (e1 - e0));
  return t * t * (3.0f - 2.0f * t);
}
/* Coverage of the inside of an edge at signed distance d (positive inside), softness w. */
static inline float inside(float d, float w) { return clamp01(d / w + 0.5f); }
static inline float insidei(float d, float inv_w) { return clamp01(d * inv_w + 0.5f); }

/* Precomputed per-image quantities. */
typedef struct ctx {
  const prior_synth_truth *t;
  int n;
  float px;   /* one pixel in normalised units */
  float soft, isoft; /* edge softness and its inverse */
  float inv_rx, inv_ry, inv_hrx, inv_hry;
  float cp_v[2]; /* costophrenic angle height */
  float ptx_pu[2], ptx_pv[2];
  /* blobs, with their cos/sin */
  float bc[PRIOR_SYNTH_MAX_BLOBS], bs[PRIOR_SYNTH_MAX_BLOBS], breach[PRIOR_SYNTH_MAX_BLOBS];
  float phase[4];
  float hc, hs; /* heart axis */
  uint32_t noise_seed;
} ctx;

static float lat_sign(int s) { return s == 0 ? -1.0f : 1.0f; }

static float dome_v(const prior_synth_truth *t, int s, float u) {
  float du = u - t->lung_cx[s] + lat_sign(s) * 0.03f;
  return t->dome_top[s] + t->dome_k * du * du;
}

static float med_half_width(const prior_synth_truth *t, float v) {
  return t->med_upper_hw + (t->med_hw - t->med_upper_hw) * sstep(-0.35f, 0.0f, v);
}

/* Distance from (u,v) to the segment a-b. */
static float seg_dist(float u, float v, float au, float av, float bu, float bv) {
  float du = bu - au, dv = bv - av;
  float l2 = du * du + dv * dv;
  float k = l2 > 0 ? ((u - au) * du + (v - av) * dv) / l2 : 0.0f;
  k = clamp01(k);
  float eu = u - au - k * du, ev = v - av - k * dv;
  return sqrtf(eu * eu + ev * ev);
}

/* Periodic band profile: 1 on the bands (a fraction `duty` of each period), soft edges of width e. */
static inline float bands(float t, float duty, float e) {
  float f = t - floorf(t);
  return clamp01((0.5f * duty - fabsf(f - 0.5f)) / e + 0.5f);
}

/* Value noise on a hashed lattice (bilinear), for the mottled texture of aerated lung. */
static inline float lattice(uint32_t seed, int i, int j) {
  uint32_t h = seed ^ ((uint32_t)i * 0x8da6b343u) ^ ((uint32_t)j * 0xd8163841u);
  h ^= h >> 15;
  h *= 0x2c1b3c6du;
  h ^= h >> 12;
  return (float)(h & 0xffff) * (1.0f / 65535.0f);
}

static inline float value_noise(uint32_t seed, float u, float v) {
  float fu = floorf(u), fv = floorf(v);
  int i = (int)fu, j = (int)fv;
  float a = u - fu, b = v - fv;
  a = a * a * (3.0f - 2.0f * a);
  b = b * b * (3.0f - 2.0f * b);
  float x0 = lattice(seed, i, j) + (lattice(seed, i + 1, j) - lattice(seed, i, j)) * a;
  float x1 = lattice(seed, i, j + 1) + (lattice(seed, i + 1, j + 1) - lattice(seed, i, j + 1)) * a;
  return x0 + (x1 - x0) * b;
}

/* One lung field's contribution: returns the brightness to subtract (air) and accumulates marks. */
static float lung_side(const ctx *c, int s, float u, float v, float heart_in, float med_in, float *mark, float *ptx,
                       int *field_px) {
  const prior_synth_truth *t = c->t;
  float rx = t->lung_rx, ls = lat_sign(s);
  float du = (u - t->lung_cx[s]) * c->inv_rx, dv = (v - t->lung_cy) * c->inv_ry;
  float q2 = du * du + dv * dv;
  if (q2 > 1.6f) return 0.0f;
  float q = sqrtf(q2);
  float e_in = insidei((1.0f - q) * rx, c->isoft);
  float dome = dome_v(t, s, u);
  float d_in = insidei(dome - v, c->isoft);
  float field = e_in * d_in;
  if (field > 0.5f) *field_px = 1;
  float air = field * (1.0f - med_in) * (1.0f - heart_in);
  if (air <= 0.0f && t->effusion_h[s] <= 0.0f) return 0.0f;
  float thick = sqrtf(fmx(0.0f, 1.0f - q2));

  /* Pleural effusion: fluid layering at the base with a meniscus climbing the lateral wall. */
  float fl = 0.0f;
  if (t->effusion_h[s] > 0.0f) {
    float h = t->effusion_h[s];
    float lat = clamp01((u - t->lung_cx[s]) * ls * c->inv_rx);
    float vf = c->cp_v[s] - h * (0.5f + 1.1f * lat * sqrtf(lat));
    fl = sstep(vf - 0.01f, vf + 0.05f + c->soft, v);
    air *= 1.0f - fl;
  }
  /* Pleural thickening along the upper lateral wall and apex. */
  if (t->pleural_thick[s] > 0.0f && v < t->lung_cy) {
    float th = insidei(t->pleural_thick[s] - (1.0f - q) * rx, c->isoft);
    air *= 1.0f - 0.8f * th;
  }
  /* Edema: perihilar "bat wing" haze. */
  if (t->edema > 0.0f) {
    float hu = (u - (t->lung_cx[s] - ls * rx * 0.45f)) * (1.0f / 0.34f), hv = (v - t->hilum_v) * (1.0f / 0.45f);
    float d2 = hu * hu + hv * hv;
    if (d2 < 1.0f) {
      float k = 1.0f - d2;
      air *= 1.0f - 0.9f * t->edema * k * k;
    }
  }
  /* Opacities. */
  for (int i = 0; i < t->nblobs; i++) {
    const prior_synth_blob *b = &t->blob[i];
    float bu = u - b->cx, bv = v - b->cy;
    if (b->side != s || fabsf(bu) > c->breach[i] || fabsf(bv) > c->breach[i]) continue;
    float ru = c->bc[i] * bu + c->bs[i] * bv, rv = -c->bs[i] * bu + c->bc[i] * bv;
    float qb = sqrtf((ru / b->rx) * (ru / b->rx) + (rv / b->ry) * (rv / b->ry));
    if (qb > 1.8f) continue;
    float n = 0.5f;
    if (b->patchy > 0.0f) { /* irregular border and mottled inside */
      n = 0.65f * value_noise(c->noise_seed + 17u, u * 22.0f, v * 22.0f) +
          0.35f * value_noise(c->noise_seed + 29u, u * 45.0f, v * 45.0f);
      qb += 0.5f * b->patchy * (n - 0.5f);
    }
    float op = insidei((1.0f - qb) * fmn(b->rx, b->ry), fmx(b->edge, c->isoft)) * b->density;
    if (b->patchy > 0.0f) op *= 1.0f - 0.7f * b->patchy * (1.0f - n);
    air *= 1.0f - op;
  }
  /* Pneumothorax: lung shrunk towards its hilar pivot; the rim outside it is pleural air. */
  float p = 0.0f;
  if (t->ptx_f[s] < 1.0f) {
    float f = t->ptx_f[s], inv = 1.0f / f;
    float uc = c->ptx_pu[s] + (u - c->ptx_pu[s]) * inv, vc = c->ptx_pv[s] + (v - c->ptx_pv[s]) * inv;
    float cu = (uc - t->lung_cx[s]) * c->inv_rx, cv = (vc - t->lung_cy) * c->inv_ry;
    float qc = sqrtf(cu * cu + cv * cv);
    float dist = (1.0f - qc) * rx * f; /* ~distance to the collapsed lung edge */
    float lung_in = insidei(dist, c->isoft) * insidei((dome_v(t, s, uc) - vc) * f, c->isoft);
    /* With fluid in the same pleural space the air lies above it (hydropneumothorax). */
    p = field * (1.0f - med_in) * (1.0f - heart_in) * (1.0f - lung_in) * (1.0f - fl);
    float lw = fmx(0.006f, 0.7f * c->px);
    float line = clamp01(1.0f - fabsf(dist) / lw) * field * (1.0f - heart_in);
    *ptx = p;
    *mark = air * (1.0f - p);
    /* The pleural air is blacker than aerated lung; the visceral pleura shows as a thin white line. */
    return 0.45f * air * (0.6f + 0.4f * thick) + 0.12f * p - 0.14f * line - 0.05f * (1.0f - p) * field * (1.0f - f);
  }
  *mark = air;
  float tex = value_noise(c->noise_seed, u * 18.0f, v * 18.0f) - 0.5f;
  return 0.45f * air * (0.6f + 0.4f * thick) * (1.0f + 0.25f * tex);
}

/* Brightness of one frontal pixel. */
static float frontal_pixel(const ctx *c, float u, float v, float *mark, float *ptx, uint8_t *anat) {
  const prior_synth_truth *t = c->t;
  float au = fabsf(u);
  /* Body: neck widening into the shoulders, thicker in the middle. */
  float hw = t->neck_hw + (t->body_hw - t->neck_hw) * sstep(t->body_top - 0.22f, t->body_top + 0.22f, v);
  hw *= 1.0f - 0.1f * sstep(0.45f, 1.0f, v);
  float body = inside(hw - au, 2.0f * c->soft);
  float r = au / hw;
  float b = body * (0.2f + 0.42f * sqrtf(fmx(0.0f, 1.0f - r * r)));
  /* Breast and pectoral soft tissue over the lower lateral lung fields. */
  {
    float bu = (au - 0.42f) * (1.0f / 0.32f), bv = (v - 0.28f) * (1.0f / 0.3f), d2 = bu * bu + bv * bv;
    if (d2 < 1.0f) b += (t->female ? 0.09f : 0.04f) * (1.0f - d2) * body;
  }
  /* Heart. */
  float hu0 = u - t->heart_cx, hv0 = v - t->heart_cy;
  float hu = (c->hc * hu0 + c->hs * hv0) * c->inv_hrx, hv = (-c->hs * hu0 + c->hc * hv0) * c->inv_hry;
  float hq = sqrtf(hu * hu + hv * hv);
  float heart_in = insidei((1.0f - hq) * t->heart_rx, c->isoft);
  /* Mediastinum, with the aortic knob on the left. */
  float mhw = med_half_width(t, v);
  /* In the neck the mediastinal shadow thins out to the soft tissue around the trachea. */
  float med_in = insidei(mhw - fabsf(u - 0.01f), c->isoft) *
                 (0.3f + 0.7f * sstep(t->body_top - 0.25f, t->body_top + 0.1f, v));
  {
    float ku = u - (mhw + 0.015f), kv = v - (t->hilum_v - 0.26f);
    med_in = fmx(med_in, insidei(0.055f - sqrtf(ku * ku + kv * kv), c->isoft));
  }
  /* Below the domes heart and mediastinum merge into the abdominal shadow. */
  float above = inside(0.5f * (t->dome_top[0] + t->dome_top[1]) + 0.05f - v, 0.06f);
  med_in *= above;
  b += (0.04f * heart_in + 0.06f * med_in) * above;
  /* Trachea: an air column down to the carina. */
  b -= 0.09f * insidei(0.028f - au, c->isoft) * inside(t->hilum_v - 0.2f - v, 0.04f) * body;
  /* Spine, with vertebral bodies and darker disc spaces. */
  if (au < 0.1f) {
    float sp = insidei(0.062f - au, c->isoft);
    b += sp * inside(v - t->body_top, 0.1f) *
         (0.02f + 0.03f * bands(v * (1.0f / 0.085f) + c->phase[3], 0.8f, fmx(0.1f, c->px * 12.0f)));
  }
  /* Lungs. */
  float m0 = 0, m1 = 0, p0 = 0, p1 = 0;
  int field = 0;
  b -= lung_side(c, 0, u, v, heart_in, med_in, &m0, &p0, &field);
  b -= lung_side(c, 1, u, v, heart_in, med_in, &m1, &p1, &field);
  *mark = m0 + m1;
  *ptx = p0 + p1;
  /* Hila. */
  for (int s = 0; s < 2; s++) {
    float hu2 = u - (t->lung_cx[s] - lat_sign(s) * t->lung_rx * 0.62f), hv2 = v - t->hilum_v;
    float d2 = (hu2 * hu2 + hv2 * hv2) * (1.0f / (0.075f * 0.075f));
    if (d2 < 1.0f) b += (0.07f + 0.06f * t->edema) * (1.0f - d2);
  }
  /* Ribs: posterior arcs rising from the spine and curving down laterally, fainter anterior ribs. */
  {
    float s = u < 0 ? 0 : 1;
    int si = (int)s;
    float ru = (u - t->lung_cx[si]) * c->inv_rx * 0.93f, rv = (v - t->lung_cy) * c->inv_ry * 0.97f;
    float cage = insidei((1.0f - sqrtf(ru * ru + rv * rv)) * t->lung_rx, c->isoft) * insidei(au - 0.06f, c->isoft);
    cage *= inside(dome_v(t, si, u) + 0.04f - v, 0.05f);
    if (cage > 0.0f) {
      float w = v + 0.7f * au - 1.4f * au * au - t->rib_top;
      if (w > 0.0f) {
        float tt = w / t->rib_spacing * (1.0f - 0.12f * w); /* lower ribs lie further apart */
        if (t->fracture_v[si] != 0.0f && fabsf(v - t->fracture_v[si]) < 0.05f && au > 0.55f) tt += 0.35f;
        float e = fmx(0.07f, c->px / t->rib_spacing);
        float rib = bands(tt, 0.36f, e) * sstep(0.0f, 0.02f, w) * sstep(0.05f, 0.25f, au);
        float w2 = v - 0.35f * (0.75f - au) - t->rib_top - 0.25f;
        float arib = w2 > 0.0f ? 0.35f * bands(w2 / (t->rib_spacing * 1.6f), 0.3f, e) : 0.0f;
        b += cage * (0.045f * rib + 0.025f * arib);
      }
    }
  }
  /* Clavicles. */
  if (fabsf(v - t->clav_y) < 0.2f) {
    float ls = u < 0 ? -1.0f : 1.0f;
    float d = seg_dist(u, v, ls * 0.07f, t->clav_y + 0.05f, ls * 0.6f, t->clav_y - 0.05f);
    b += 0.08f * insidei(0.03f - d, c->isoft);
  }
  /* AP films: the scapulae are not rotated out of the way and overlap the upper lateral lung fields. */
  if (t->view == PRIOR_SYNTH_AP && v < 0.1f && au > 0.45f) {
    float su = (au - 0.66f) * (1.0f / 0.13f), sv = (v + 0.3f) * (1.0f / 0.32f);
    float sq = sqrtf(su * su + sv * sv);
    b += 0.05f * insidei((1.0f - sq) * 0.13f, c->isoft) * (0.6f + 0.4f * clamp01(-su));
  }
  /* Gastric bubble under the left hemidiaphragm. */
  if (t->gastric_bubble && t->effusion_h[1] <= 0.0f) {
    float gu = (u - t->lung_cx[1] - 0.02f) * (1.0f / 0.08f), gv = (v - t->dome_top[1] - 0.12f) * (1.0f / 0.045f);
    float gq = sqrtf(gu * gu + gv * gv);
    b -= 0.12f * insidei((1.0f - gq) * 0.045f, c->isoft);
  }
  *anat = hq < 1.0f ? 2 : field ? 1 : 0;
  return b;
}

/* Lateral view: profile of the chest, anterior to the image left, spine on the right: the lungs fill a rounded
 * box above the domes (which slope down to the back), the heart sits anterior and low, vertebral bodies
 * stack behind. Findings show where a lateral film shows them: fluid in the posterior sulcus, haze about
 * the hila, opacities over the lung. */
static float lateral_pixel(const ctx *c, float u, float v, float *mark) {
  const prior_synth_truth *t = c->t;
  /* Body: a rounded box (superellipse), arms raised over the upper part. */
  float bu = (u - 0.03f) / (1.02f * t->body_hw), bv = (v - 0.1f) / 1.25f;
  float b2 = bu * bu, v2 = bv * bv;
  float bq = sqrtf(sqrtf(b2 * b2 + v2 * v2));
  float body = insidei((1.0f - bq) * 0.8f, 0.5f * c->isoft);
  float b = body * (0.32f + 0.3f * sqrtf(fmx(0.0f, 1.0f - b2)));
  float dome = t->dome_top[0] + 0.08f + 0.22f * u + 0.3f * u * u;
  /* Lung field: rounded box from the retrosternal space to the posterior ribs. */
  float lu = (u + 0.01f) / 0.62f, lv = (v - (t->lung_cy - 0.1f)) / t->lung_ry;
  float l2 = lu * lu, m2 = lv * lv;
  float lq = sqrtf(sqrtf(l2 * l2 + m2 * m2));
  float field = insidei((1.0f - lq) * 0.5f, c->isoft) * insidei(dome - v, c->isoft);
  float hr = t->heart_rx * 0.8f, hy = t->heart_ry * 0.9f;
  float hu = (u + 0.48f - hr) / hr, hv = (v - (dome - hy * 0.45f)) / hy;
  float heart_in = insidei((1.0f - sqrtf(hu * hu + hv * hv)) * hr, c->isoft);
  float air = field * (1.0f - heart_in);
  float h = fmx(t->effusion_h[0], t->effusion_h[1]);
  if (h > 0.0f) { /* fluid fills the posterior costophrenic sulcus first */
    float vf = dome - h * (0.5f + 1.2f * clamp01(u * 2.0f + 0.2f));
    air *= 1.0f - sstep(vf - 0.01f, vf + 0.05f, v);
  }
  if (t->edema > 0.0f) {
    float eu = (u - 0.05f) / 0.4f, ev = (v - t->hilum_v) / 0.45f, d2 = eu * eu + ev * ev;
    if (d2 < 1.0f) air *= 1.0f - 0.8f * t->edema * (1.0f - d2) * (1.0f - d2);
  }
  for (int i = 0; i < t->nblobs; i++) {
    const prior_synth_blob *o = &t->blob[i];
    float ou = (u - (o->side ? 0.12f : -0.02f)) / o->rx, ov = (v - o->cy) / o->ry;
    float oq = sqrtf(ou * ou + ov * ov);
    if (oq < 1.5f) air *= 1.0f - o->density * 0.7f * inside((1.0f - oq) * o->ry, fmx(o->edge, c->soft));
  }
  float tex = value_noise(c->noise_seed, u * 16.0f, v * 16.0f) - 0.5f;
  b -= 0.36f * air * (1.0f + 0.25f * tex);
  b += 0.03f * heart_in * insidei(dome - v, c->isoft);
  /* Vertebral bodies with disc spaces, and the posterior ribs' faint arcs. */
  float sp = insidei(0.075f - fabsf(u - 0.5f), c->isoft) * insidei(0.95f - v, c->isoft);
  b += sp * (0.03f + 0.07f * bands(v * (1.0f / 0.1f) + c->phase[3], 0.78f, fmx(0.06f, c->px * 10.0f)));
  /* Sternum along the anterior chest wall. */
  b += 0.05f * insidei(0.025f - fabsf(u + 0.56f + 0.08f * v), c->isoft) * insidei(0.4f - fabsf(v + 0.15f), c->isoft);
  /* Arms raised in front of the upper chest. */
  float au2 = (u + 0.05f) / 0.55f, av2 = (v + 0.8f) / 0.22f;
  b += 0.06f * inside(1.0f - sqrtf(au2 * au2 + av2 * av2), 0.4f);
  *mark = air;
  return b;
}

/* ---- strokes: vessels and devices --------------------------------------------------------------------- */

typedef struct canvas {
  float *buf;
  int n;
} canvas;

/* Max-blends a round brush of diameter w_px and value `val` at pixel (x,y). */
static void dab(canvas *cv, float x, float y, float w_px, float val) {
  float rr = 0.5f * w_px;
  int x0 = (int)floorf(x - rr - 1.0f), x1 = (int)ceilf(x + rr + 1.0f);
  int y0 = (int)floorf(y - rr - 1.0f), y1 = (int)ceilf(y + rr + 1.0f);
  if (x0 < 0) x0 = 0;
  if (y0 < 0) y0 = 0;
  if (x1 >= cv->n) x1 = cv->n - 1;
  if (y1 >= cv->n) y1 = cv->n - 1;
  for (int yy = y0; yy <= y1; yy++)
    for (int xx = x0; xx <= x1; xx++) {
      float dx = (float)xx + 0.5f - x, dy = (float)yy + 0.5f - y;
      float cov = clamp01(rr + 0.5f - sqrtf(dx * dx + dy * dy)) * val;
      float *p = &cv->buf[(size_t)yy * cv->n + xx];
      if (cov > *p) *p = cov;
    }
}

/* A stroke along a quadratic Bezier a-m-b in the normalised frame, width tapering w0 -> w1 (normalised). */
static void stroke(canvas *cv, const prior_synth_truth *t, float au, float av, float mu, float mv, float bu, float bv,
                   float w0, float w1, float val) {
  float x0, y0, x1, y1, x2, y2;
  synth_to_pixel(t, au, av, &x0, &y0);
  synth_to_pixel(t, mu, mv, &x1, &y1);
  synth_to_pixel(t, bu, bv, &x2, &y2);
  float len = sqrtf((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)) +
              sqrtf((x2 - x1) * (x2 - x1) + (y2 - y1) * (y2 - y1));
  int steps = (int)(len * 1.5f) + 2;
  float pxu = t->scale * 0.5f * (float)t->size; /* pixels per normalised unit */
  for (int i = 0; i <= steps; i++) {
    float k = (float)i / (float)steps, a = (1 - k) * (1 - k), m = 2 * k * (1 - k), b = k * k;
    float x = a * x0 + m * x1 + b * x2, y = a * y0 + m * y1 + b * y2;
    float w = (w0 + (w1 - w0) * k) * pxu;
    /* Lines thinner than a pixel keep their contrast-area: thinner, fainter. */
    float v = w < 1.0f ? val * w : val;
    dab(cv, x, y, fmx(w, 1.0f), v);
  }
}

/* A vessel and its branches: each generation thinner, shorter and fainter, fanning away from the hilum. */
static void vessel(canvas *cv, const prior_synth_truth *t, synth_rng *r, float su, float sv, float ang, float len,
                   float w, float ls, int depth) {
  float du = ls * cosf(ang), dv = sinf(ang);
  float eu = su + du * len, ev = sv + dv * len;
  float bend = synth_range(r, -0.15f, 0.15f) * len;
  stroke(cv, t, su, sv, su + du * len * 0.5f - dv * bend, sv + dv * len * 0.5f + du * bend, eu, ev, w, w * 0.45f,
         0.08f + 0.02f * (float)depth);
  if (depth == 0) return;
  int kids = 2 + synth_bern(r, 0.4f);
  for (int k = 0; k < kids; k++) {
    float at = synth_range(r, 0.45f, 0.95f);
    float k1 = 1.0f - at;
    float bu = su + du * len * at - dv * bend * 2.0f * at * k1, bv = sv + dv * len * at + du * bend * 2.0f * at * k1;
    vessel(cv, t, r, bu, bv, ang + synth_range(r, -0.6f, 0.6f), len * synth_range(r, 0.45f, 0.7f), w * 0.6f, ls,
           depth - 1);
  }
}

static void draw_vessels(canvas *cv, const prior_synth_truth *t, synth_rng *r) {
  for (int s = 0; s < 2; s++) {
    float ls = lat_sign(s);
    float hu = t->lung_cx[s] - ls * t->lung_rx * 0.62f, hv = t->hilum_v;
    int nb = 6;
    for (int i = 0; i < nb; i++) {
      /* Fan from up (-85 deg) through lateral to down (+80 deg). */
      float ang = -1.5f + 2.9f * ((float)i + synth_range(r, 0.15f, 0.85f)) / (float)nb;
      float len = synth_range(r, 0.14f, 0.22f) * (sinf(ang) < 0 ? 1.15f : 0.9f);
      vessel(cv, t, r, hu + synth_range(r, -0.03f, 0.03f), hv + synth_range(r, -0.04f, 0.04f), ang, len, 0.022f, ls,
             2);
    }
  }
}

static void draw_devices(canvas *cv, const prior_synth_truth *t) {
  int d = t->devices;
  float carina = t->hilum_v - 0.2f;
  if (d & PRIOR_SYNTH_DEV_ET_TUBE) stroke(cv, t, 0.0f, -1.2f, 0.01f, -0.8f, 0.005f, carina - 0.12f, 0.016f, 0.016f, 0.4f);
  if (d & PRIOR_SYNTH_DEV_NG_TUBE) {
    float sv = t->dome_top[1] + 0.15f;
    stroke(cv, t, 0.03f, -1.2f, 0.04f, -0.3f, 0.05f, t->dome_top[1], 0.014f, 0.014f, 0.4f);
    stroke(cv, t, 0.05f, t->dome_top[1], 0.1f, sv + 0.05f, t->lung_cx[1], sv, 0.014f, 0.014f, 0.4f);
  }
  if (d & PRIOR_SYNTH_DEV_CENTRAL_LINE)
    stroke(cv, t, -0.34f, -1.05f, -0.14f, -0.62f, -0.05f, t->hilum_v - 0.02f, 0.013f, 0.013f, 0.4f);
  if (d & PRIOR_SYNTH_DEV_PACEMAKER) {
    float gu = 0.52f, gv = t->clav_y + 0.1f;
    for (int i = -3; i <= 3; i++) /* the generator: a rounded can */
      stroke(cv, t, gu - 0.07f, gv + 0.012f * i, gu, gv + 0.012f * i, gu + 0.07f, gv + 0.012f * i, 0.02f, 0.02f, 0.45f);
    stroke(cv, t, gu - 0.05f, gv, 0.05f, gv - 0.1f, -0.02f, t->heart_cy - 0.05f, 0.01f, 0.01f, 0.35f);
    stroke(cv, t, -0.02f, t->heart_cy - 0.05f, 0.0f, t->heart_cy + 0.05f, t->heart_cx + 0.05f,
           t->heart_cy + t->heart_ry * 0.6f, 0.01f, 0.01f, 0.35f);
  }
}

/* ---- film: blur, exposure curve, grain ----------------------------------------------------------------- */

static void box_blur(float *img, float *tmp, int n, int r) {
  float inv = 1.0f / (float)(2 * r + 1);
  for (int y = 0; y < n; y++) { /* rows into tmp */
    const float *row = img + (size_t)y * n;
    float acc = 0.0f;
    for (int k = -r; k <= r; k++) acc += row[k < 0 ? 0 : k >= n ? n - 1 : k];
    for (int x = 0; x < n; x++) {
      tmp[(size_t)y * n + x] = acc * inv;
      int out = x - r, in = x + r + 1;
      acc += row[in >= n ? n - 1 : in] - row[out < 0 ? 0 : out];
    }
  }
  for (int x = 0; x < n; x++) { /* columns back into img */
    float acc = 0.0f;
    for (int k = -r; k <= r; k++) acc += tmp[(size_t)(k < 0 ? 0 : k >= n ? n - 1 : k) * n + x];
    for (int y = 0; y < n; y++) {
      img[(size_t)y * n + x] = acc * inv;
      int out = y - r, in = y + r + 1;
      acc += tmp[(size_t)(in >= n ? n - 1 : in) * n + x] - tmp[(size_t)(out < 0 ? 0 : out) * n + x];
    }
  }
}

prior_status prior_synth_render_truth(const prior_synth_truth *t, float *image, uint8_t *ptx_mask, uint8_t *anatomy) {
  if (!t || !image) return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_render_truth: NULL truth or image");
  if (t->size < 32 || t->size > 2048)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_render_truth: image size %d is outside 32..2048", t->size);
  if (t->nblobs < 0 || t->nblobs > PRIOR_SYNTH_MAX_BLOBS || t->scale <= 0.0f || t->lung_rx <= 0.0f ||
      t->lung_ry <= 0.0f || t->heart_rx <= 0.0f || t->heart_ry <= 0.0f || t->rib_spacing <= 0.0f)
    return prior_error_set(PRIOR_ERR_ARGUMENT, "prior_synth_render_truth: truth has invalid geometry "
                                               "(nblobs %d, scale %g); draw it with prior_synth_sample",
                           t->nblobs, (double)t->scale);
  int n = t->size;
  size_t npx = (size_t)n * n;
  float *mark = malloc(npx * sizeof(float) * 2);
  if (!mark) return prior_error_set(PRIOR_ERR_MEMORY, "synthetic image %dx%d: out of memory", n, n);
  float *lines = mark + npx;
  memset(lines, 0, npx * sizeof(float));

  ctx c;
  memset(&c, 0, sizeof c);
  c.t = t;
  c.n = n;
  c.px = 2.0f / ((float)n * t->scale);
  c.soft = fmx(0.01f, 1.2f * c.px);
  c.isoft = 1.0f / c.soft;
  c.inv_rx = 1.0f / t->lung_rx;
  c.inv_ry = 1.0f / t->lung_ry;
  c.inv_hrx = 1.0f / t->heart_rx;
  c.inv_hry = 1.0f / t->heart_ry;
  for (int s = 0; s < 2; s++) {
    float du = t->lung_rx * 0.97f;
    c.cp_v[s] = t->dome_top[s] + t->dome_k * (du - 0.03f) * (du - 0.03f);
    /* Collapse pivot: medial and low, so the rim opens at the apex and along the lateral wall. */
    c.ptx_pu[s] = t->lung_cx[s] - lat_sign(s) * t->lung_rx * 0.75f;
    c.ptx_pv[s] = t->dome_top[s] - 0.05f;
  }
  for (int i = 0; i < t->nblobs; i++) {
    c.bc[i] = cosf(t->blob[i].angle);
    c.bs[i] = sinf(t->blob[i].angle);
    c.breach[i] = fmx(t->blob[i].rx, t->blob[i].ry) + 2.0f * fmx(t->blob[i].edge, c.soft);
  }
  c.noise_seed = (uint32_t)(t->seed >> 32);
  c.hc = cosf(t->heart_angle);
  c.hs = sinf(t->heart_angle);
  synth_rng r = synth_rng_make(t->seed, 0x7265ULL);
  for (int k = 0; k < 4; k++) c.phase[k] = synth_range(&r, 0.0f, 6.2831853f);

  /* Pixel centre -> normalised frame: the inverse of synth_to_pixel. */
  float cs = cosf(t->rot), sn = sinf(t->rot), is = 1.0f / t->scale, step = 2.0f / (float)n;
  int lateral = t->view == PRIOR_SYNTH_LATERAL;
  for (int y = 0; y < n; y++) {
    float yn = ((float)y + 0.5f) * step - 1.0f - t->ty;
    for (int x = 0; x < n; x++) {
      float xn = ((float)x + 0.5f) * step - 1.0f - t->tx;
      float u = (cs * xn + sn * yn) * is, v = (-sn * xn + cs * yn) * is;
      size_t i = (size_t)y * n + x;
      float m = 0.0f, p = 0.0f;
      uint8_t a = 0;
      image[i] = lateral ? lateral_pixel(&c, u, v, &m) : frontal_pixel(&c, u, v, &m, &p, &a);
      mark[i] = m;
      if (ptx_mask) ptx_mask[i] = p > 0.5f;
      if (anatomy) anatomy[i] = a;
    }
  }
  canvas cv = {lines, n};
  if (!lateral) draw_vessels(&cv, t, &r);
  for (size_t i = 0; i < npx; i++) image[i] += lines[i] * fmn(mark[i] * 1.6f, 1.0f);
  if (t->devices && !lateral) {
    memset(lines, 0, npx * sizeof(float));
    draw_devices(&cv, t);
    for (size_t i = 0; i < npx; i++) image[i] += lines[i];
  }
  int radius = (int)(t->blur * (float)n / 224.0f + 0.5f);
  if (radius >= 1) {
    box_blur(image, mark, n, radius);
    box_blur(image, mark, n, radius);
  }
  /* Exposure curve as a small table: brightness -> film density, gamma, then grain. */
  float lut[257];
  for (int k = 0; k <= 256; k++) {
    float b = (float)k / 256.0f * 1.25f;
    float d = clamp01((b - 0.02f) * 1.25f * t->contrast + t->exposure);
    lut[k] = powf(d, t->gamma);
  }
  for (size_t i = 0; i < npx; i++) {
    float f = clamp01(image[i] * (1.0f / 1.25f)) * 256.0f;
    int k = (int)f;
    if (k > 255) k = 255;
    float val = lut[k] + (lut[k + 1] - lut[k]) * (f - (float)k);
    image[i] = clamp01(val + t->noise * synth_normal(&r));
  }
  free(mark);
  return PRIOR_OK;
}

prior_status prior_synth_render(const prior_synth_config *cfg, uint64_t index, float *image, prior_synth_truth *truth) {
  prior_synth_truth local;
  prior_synth_truth *t = truth ? truth : &local;
  PRIOR_TRY(prior_synth_sample(cfg, NULL, SYNTH_STREAM(SYNTH_TREE_DEFAULT) + index, t));
  return prior_synth_render_truth(t, image, NULL, NULL);
}
