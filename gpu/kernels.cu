// CUDA C kernels of the cuda backend, compiled at run time by NVRTC (no
// headers: NVRTC provides the math functions and atomics). Every kernel is
// extern "C" so that its name is its symbol; gpu/kernels_test.go checks
// that the Go side launches each with as many arguments as it declares.
// Element counts and indices are int: the Go launcher (indexable in
// backend.go) refuses sizes at which they would pass 2^31 − 1.
// Compiled with --fmad=false, so that a*b+c rounds twice as on the CPU
// backend and element-wise results match it bit for bit.

#define GRID_STRIDE(i, n) for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += blockDim.x * gridDim.x)
// FIXED_BLOCK(x, y): the kernel is written for blocks of exactly x×y
// threads (shared arrays and strides sized for them); the compiler gets the
// bound, and the Go launcher (kernels.go reads this macro) refuses any
// other block shape rather than let the kernel compute a wrong result.
#define FIXED_BLOCK(x, y) __launch_bounds__((x) * (y))
#define NEG_INF __uint_as_float(0xff800000u) // the bits of −∞; unsigned, so no sign change

// ---- counter-based random values: rng.Key.At, bit for bit ----
__device__ unsigned long long rst_mix(unsigned long long z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
__device__ unsigned long long rst_at(unsigned long long s1, unsigned long long s2, unsigned long long i) {
    return rst_mix(rst_mix(s1 ^ (i * 0x9e3779b97f4a7c15ULL)) ^ s2);
}
__device__ float rst_float32_at(unsigned long long s1, unsigned long long s2, unsigned long long i) {
    return (float)(rst_at(s1, s2, i) >> 40) / 16777216.0f;
}
__device__ double rst_float64_at(unsigned long long s1, unsigned long long s2, unsigned long long i) {
    return (double)(rst_at(s1, s2, i) >> 11) / 9007199254740992.0;
}
// rng.Key.NormalAt: Box–Muller with the same series for ln and cos, each
// operation rounded once (double, no fused multiply-add), so the float32
// is the CPU backend's bit for bit.
__device__ double rst_log_series(double u) {
    double e = 0.0;
    while (u < 0.7071067811865476) { u *= 2.0; e -= 1.0; }
    double s = (u - 1.0) / (u + 1.0);
    double s2 = s * s;
    double r = 1.0 / 23.0;
    for (int k = 10; k >= 0; k--) r = 1.0 / (double)(2 * k + 1) + s2 * r;
    return e * 0.6931471805599453 + 2.0 * (s * r);
}
__device__ double rst_cos2pi_series(double u) {
    if (u >= 0.5) u = 1.0 - u;
    double sign = 1.0;
    if (u > 0.25) { u = 0.5 - u; sign = -1.0; }
    bool sine = u > 0.125;
    if (sine) u = 0.25 - u;
    double t = 6.283185307179586 * u;
    double t2 = t * t;
    double r = 1.0;
    for (int k = 10; k >= 1; k--) {
        double d = (double)(2 * k);
        d *= sine ? (double)(2 * k + 1) : (double)(2 * k - 1);
        r = 1.0 - (t2 * r) / d;
    }
    if (sine) r = t * r;
    return sign * r;
}
__device__ float rst_normal_at(unsigned long long s1, unsigned long long s2, unsigned long long i) {
    unsigned long long x = rst_at(s1, s2, i);
    double u1 = (double)((x >> 32) + 1ULL) / 4294967296.0;
    double u2 = (double)(x & 0xffffffffULL) / 4294967296.0;
    return (float)(sqrt(-2.0 * rst_log_series(u1)) * rst_cos2pi_series(u2));
}

// ---- flat element-wise ----
extern "C" __global__ void fill(float* x, int n, float v) { GRID_STRIDE(i, n) x[i] = v; }
extern "C" __global__ void axpy(const float* x, float* y, int n, float a) { GRID_STRIDE(i, n) y[i] += a * x[i]; }
extern "C" __global__ void scale(float* x, int n, float a) { GRID_STRIDE(i, n) x[i] *= a; }
extern "C" __global__ void lerp(float* y, const float* x, int n, float a) {
    float b = 1.0f - a;
    GRID_STRIDE(i, n) y[i] = b * y[i] + a * x[i];
}
extern "C" __global__ void mul(const float* a, const float* b, float* y, int n) { GRID_STRIDE(i, n) y[i] = a[i] * b[i]; }
extern "C" __global__ void add(const float* a, const float* b, float* y, int n) { GRID_STRIDE(i, n) y[i] = a[i] + b[i]; }
extern "C" __global__ void add_relu(const float* a, const float* b, float* y, int n) {
    GRID_STRIDE(i, n) y[i] = fmaxf(a[i] + b[i], 0.0f);
}
extern "C" __global__ void relu(const float* x, float* y, int n) { GRID_STRIDE(i, n) y[i] = fmaxf(x[i], 0.0f); }
extern "C" __global__ void relu_backward(const float* y, const float* dy, float* dx, int n) {
    GRID_STRIDE(i, n) dx[i] = y[i] > 0.0f ? dy[i] : 0.0f;
}
extern "C" __global__ void abs_plus(const float* x, float* y, int n, float c) { GRID_STRIDE(i, n) y[i] = fabsf(x[i]) + c; }
extern "C" __global__ void where_mask(const float* m, const float* a, const float* b, float* y, int n) {
    GRID_STRIDE(i, n) y[i] = m[i] != 0.0f ? a[i] : b[i];
}
extern "C" __global__ void add_row_vector(float* y, const float* v, int n, int cols) { GRID_STRIDE(i, n) y[i] += v[i % cols]; }

extern "C" __global__ void dropout_mask(float* m, int n, float p, float keep, unsigned long long s1, unsigned long long s2, unsigned long long off) {
    GRID_STRIDE(i, n) m[i] = rst_float32_at(s1, s2, off + (unsigned long long)i) < p ? 0.0f : keep;
}
extern "C" __global__ void bernoulli(float* m, int n, double p, unsigned long long s1, unsigned long long s2) {
    GRID_STRIDE(i, n) m[i] = rst_float64_at(s1, s2, (unsigned long long)i) < p ? 1.0f : 0.0f;
}
extern "C" __global__ void uniform(float* t, int n, unsigned long long s1, unsigned long long s2) {
    GRID_STRIDE(i, n) t[i] = rst_float32_at(s1, s2, (unsigned long long)i);
}
extern "C" __global__ void normal(float* t, int n, unsigned long long s1, unsigned long long s2, unsigned long long off) {
    GRID_STRIDE(i, n) t[i] = rst_normal_at(s1, s2, off + (unsigned long long)i);
}

// ---- optimizers (the CPU backend's formulas, operation for operation) ----
extern "C" __global__ void sgd_momentum(float* w, const float* g, float* v, int n, float lr, float mom, int nesterov) {
    GRID_STRIDE(i, n) {
        float vi = mom * v[i] + g[i];
        v[i] = vi;
        if (nesterov) w[i] -= lr * (g[i] + mom * vi);
        else w[i] -= lr * vi;
    }
}
extern "C" __global__ void adamw(float* w, const float* g, float* m, float* v, int n, float lr, float b1, float b2, float eps, float decay, float bc1, float bc2) {
    GRID_STRIDE(i, n) {
        float gi = g[i];
        float mi = b1 * m[i] + (1.0f - b1) * gi;
        float vi = b2 * v[i] + (1.0f - b2) * gi * gi;
        m[i] = mi;
        v[i] = vi;
        float mh = mi / bc1, vh = vi / bc2;
        w[i] -= lr * (mh / (sqrtf(vh) + eps) + decay * w[i]);
    }
}

// ---- reductions (fixed shapes and orders: results do not vary run to run) ----

// dot_partial: block b sums x·y over its grid-stride share in double;
// blockDim.x must be 256.
extern "C" __global__ void FIXED_BLOCK(256, 1) dot_partial(const float* x, const float* y, int n, double* part) {
    __shared__ double s[256];
    double acc = 0.0;
    GRID_STRIDE(i, n) acc += (double)x[i] * (double)y[i];
    s[threadIdx.x] = acc;
    __syncthreads();
    for (unsigned k = 128; k > 0; k >>= 1) {
        if (threadIdx.x < k) s[threadIdx.x] += s[threadIdx.x + k];
        __syncthreads();
    }
    if (threadIdx.x == 0) part[blockIdx.x] = s[0];
}
// dot_final: one thread adds the partials in order.
extern "C" __global__ void dot_final(const double* part, int np, double* out) {
    if (blockIdx.x == 0 && threadIdx.x == 0) {
        double s = 0.0;
        for (int i = 0; i < np; i++) s += part[i];
        out[0] = s;
    }
}

// Column sums of a rows×cols matrix in chunks of rpc rows: grid
// (ceil(cols/32), chunks), block (32, 8). part[chunk*cols + c].
// mode 0: Σ x; mode 1: Σ (x − mean)² with the difference in float, as the
// CPU backend's centred second pass.
extern "C" __global__ void FIXED_BLOCK(32, 8) col_partial(const float* x, int rows, int cols, int rpc, const float* mean, int mode, double* part) {
    __shared__ double s[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * rpc;
    int r1 = min(r0 + rpc, rows);
    double acc = 0.0;
    if (c < cols) {
        float m = mode ? mean[c] : 0.0f;
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            float v = x[(long long)r * cols + c];
            if (mode) {
                double d = (double)(v - m);
                acc += d * d;
            } else {
                acc += (double)v;
            }
        }
    }
    s[threadIdx.y][threadIdx.x] = acc;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        double t = 0.0;
        for (int k = 0; k < 8; k++) t += s[k][threadIdx.x];
        part[(long long)blockIdx.y * cols + c] = t;
    }
}

// sum_rows_finish: dv[c] = beta·dv[c] + Σ_chunks part.
extern "C" __global__ void sum_rows_finish(const double* part, int chunks, int cols, float* dv, float beta) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += part[(long long)k * cols + c];
    dv[c] = beta * dv[c] + (float)s;
}

// bn_moment_finish: out[c] = Σ_chunks part / rows (the mean, or the biased variance).
extern "C" __global__ void bn_moment_finish(const double* part, int chunks, int cols, int rows, float* out) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s += part[(long long)k * cols + c];
    out[c] = (float)(s / (double)rows);
}

// bn_affine: scale = γ/√(σ²+ε), shift = β − μ·scale, as the CPU backend.
extern "C" __global__ void bn_affine(const float* gamma, const float* beta, const float* mean, const float* var, int cols, float eps, float* scale, float* shift) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    float inv = (float)(1.0 / sqrt((double)var[c] + (double)eps));
    float sc = gamma[c] * inv;
    scale[c] = sc;
    shift[c] = beta[c] - mean[c] * sc;
}

extern "C" __global__ void bn_apply(const float* x, float* y, const float* scale, const float* shift, int n, int cols, int relu) {
    GRID_STRIDE(i, n) {
        int c = i % cols;
        float v = x[i] * scale[c] + shift[c];
        y[i] = relu ? fmaxf(v, 0.0f) : v;
    }
}

// store_col_pair ends a two-sum column reduction over a 32×8 block: each
// thread's sums (a, b) of column c go through shared memory (s, q), and row
// 0 adds the 8 rows' in order and stores them as chunk blockIdx.y's pair,
// rows 2k and 2k+1 of part. Every thread of the block must call it.
__device__ void store_col_pair(double (*s)[33], double (*q)[33], double a, double b, int c, int cols, double* part) {
    s[threadIdx.y][threadIdx.x] = a;
    q[threadIdx.y][threadIdx.x] = b;
    __syncthreads();
    if (threadIdx.y == 0 && c < cols) {
        double ta = 0.0, tb = 0.0;
        for (int k = 0; k < 8; k++) {
            ta += s[k][threadIdx.x];
            tb += q[k][threadIdx.x];
        }
        part[(long long)(2 * blockIdx.y) * cols + c] = ta;
        part[(long long)(2 * blockIdx.y + 1) * cols + c] = tb;
    }
}

// bn_grad_partial: per chunk and column, Σ g and Σ g·x with g = dy masked
// by y > 0 under a fused ReLU. Same grid as col_partial; part holds
// 2·chunks rows: chunk k's Σg in row 2k, Σg·x in row 2k+1.
extern "C" __global__ void FIXED_BLOCK(32, 8) bn_grad_partial(const float* x, const float* y, const float* dy, int rows, int cols, int rpc, int relu, double* part) {
    __shared__ double s[8][33];
    __shared__ double q[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * rpc;
    int r1 = min(r0 + rpc, rows);
    double a = 0.0, b = 0.0;
    if (c < cols) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            long long i = (long long)r * cols + c;
            float g = dy[i];
            if (relu && !(y[i] > 0.0f)) g = 0.0f;
            a += (double)g;
            b += (double)g * (double)x[i];
        }
    }
    store_col_pair(s, q, a, b, c, cols, part);
}

// bn_grad_finish: dγ, dβ and the three per-channel coefficients of
// dx = gs·g − k1·x − k2 (the CPU backend's formulas).
extern "C" __global__ void bn_grad_finish(const double* part, int chunks, int cols, int rows, const float* gamma, const float* mean, const float* var, float eps,
                                          float* dgamma, float* dbeta, float* gs, float* k1, float* k2) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    double sg = 0.0, sgx = 0.0;
    for (int k = 0; k < chunks; k++) {
        sg += part[(long long)(2 * k) * cols + c];
        sgx += part[(long long)(2 * k + 1) * cols + c];
    }
    double is = 1.0 / sqrt((double)var[c] + (double)eps);
    double m = (double)mean[c];
    double dg = (sgx - m * sg) * is;
    dgamma[c] = (float)dg;
    dbeta[c] = (float)sg;
    double g = (double)gamma[c] * is;
    gs[c] = (float)g;
    k1[c] = (float)(g * dg * is / (double)rows);
    k2[c] = (float)(g * sg / (double)rows - g * dg * is * m / (double)rows);
}

extern "C" __global__ void bn_grad_apply(const float* x, const float* y, const float* dy, float* dx, const float* gs, const float* k1, const float* k2, int n, int cols, int relu) {
    GRID_STRIDE(i, n) {
        int c = i % cols;
        float g = dy[i];
        if (relu && !(y[i] > 0.0f)) g = 0.0f;
        dx[i] = gs[c] * g - k1[c] * x[i] - k2[c];
    }
}

// ---- pooling, NHWC; geometry kh, kw, stride s, padding p ----

// maxpool: one thread per output element; padding never wins.
extern "C" __global__ void maxpool(const float* x, float* y, int N, int H, int W, int C, int OH, int OW, int kh, int kw, int s, int p) {
    int n = N * OH * OW * C;
    GRID_STRIDE(o, n) {
        int c = o % C, t = o / C;
        int j = t % OW; t /= OW;
        int i = t % OH;
        int img = t / OH;
        float m = NEG_INF;
        for (int a = 0; a < kh; a++) {
            int ih = i * s - p + a;
            if (ih < 0 || ih >= H) continue;
            for (int b = 0; b < kw; b++) {
                int iw = j * s - p + b;
                if (iw < 0 || iw >= W) continue;
                float v = x[(((long long)img * H + ih) * W + iw) * C + c];
                if (v > m) m = v;
            }
        }
        y[o] = m;
    }
}

// first_max: flat input index of the first window position (row-major)
// holding the output's value, the one a stored argmax would name.
__device__ long long first_max(const float* x, float m, int img, int i, int j, int c, int H, int W, int C, int kh, int kw, int s, int p) {
    for (int a = 0; a < kh; a++) {
        int ih = i * s - p + a;
        if (ih < 0 || ih >= H) continue;
        for (int b = 0; b < kw; b++) {
            int iw = j * s - p + b;
            if (iw < 0 || iw >= W) continue;
            long long q = (((long long)img * H + ih) * W + iw) * C + c;
            if (x[q] == m) return q;
        }
    }
    return -1;
}

// The windows that cover input row ih: outputs lo..hi.
__device__ void covering(int ih, int k, int s, int p, int O, int* lo, int* hi) {
    int a = ih + p - k + 1;
    *lo = a <= 0 ? 0 : (a + s - 1) / s;
    *hi = min(O - 1, (ih + p) / s);
}

// maxpool_backward: one thread per input element gathers the gradients
// of the outputs whose first maximum it is, in output order (no atomics).
extern "C" __global__ void maxpool_backward(const float* x, const float* y, const float* dy, float* dx, int N, int H, int W, int C, int OH, int OW, int kh, int kw, int s, int p) {
    int n = N * H * W * C;
    GRID_STRIDE(q, n) {
        int c = q % C, t = q / C;
        int iw = t % W; t /= W;
        int ih = t % H;
        int img = t / H;
        int i0, i1, j0, j1;
        covering(ih, kh, s, p, OH, &i0, &i1);
        covering(iw, kw, s, p, OW, &j0, &j1);
        float acc = 0.0f;
        for (int i = i0; i <= i1; i++) {
            for (int j = j0; j <= j1; j++) {
                long long o = (((long long)img * OH + i) * OW + j) * C + c;
                if (first_max(x, y[o], img, i, j, c, H, W, C, kh, kw, s, p) == q) acc += dy[o];
            }
        }
        dx[q] = acc;
    }
}

// avgpool divides by the whole window (padding counts), as the CPU backend.
extern "C" __global__ void avgpool(const float* x, float* y, int N, int H, int W, int C, int OH, int OW, int kh, int kw, int s, int p, float inv) {
    int n = N * OH * OW * C;
    GRID_STRIDE(o, n) {
        int c = o % C, t = o / C;
        int j = t % OW; t /= OW;
        int i = t % OH;
        int img = t / OH;
        float acc = 0.0f;
        for (int a = 0; a < kh; a++) {
            int ih = i * s - p + a;
            if (ih < 0 || ih >= H) continue;
            for (int b = 0; b < kw; b++) {
                int iw = j * s - p + b;
                if (iw < 0 || iw >= W) continue;
                acc += x[(((long long)img * H + ih) * W + iw) * C + c];
            }
        }
        y[o] = acc * inv;
    }
}

extern "C" __global__ void avgpool_backward(const float* dy, float* dx, int N, int H, int W, int C, int OH, int OW, int kh, int kw, int s, int p, float inv) {
    int n = N * H * W * C;
    GRID_STRIDE(q, n) {
        int c = q % C, t = q / C;
        int iw = t % W; t /= W;
        int ih = t % H;
        int img = t / H;
        int i0, i1, j0, j1;
        covering(ih, kh, s, p, OH, &i0, &i1);
        covering(iw, kw, s, p, OW, &j0, &j1);
        float acc = 0.0f;
        for (int i = i0; i <= i1; i++)
            for (int j = j0; j <= j1; j++) acc += dy[(((long long)img * OH + i) * OW + j) * C + c] * inv;
        dx[q] = acc;
    }
}

// global_avgpool: one thread per (image, channel), positions in order.
extern "C" __global__ void global_avgpool(const float* x, float* y, int N, int HW, int C, float inv) {
    GRID_STRIDE(o, N * C) {
        int c = o % C, img = o / C;
        float acc = 0.0f;
        for (int q = 0; q < HW; q++) acc += x[((long long)img * HW + q) * C + c];
        y[o] = acc * inv;
    }
}
extern "C" __global__ void global_avgpool_backward(const float* dy, float* dx, int N, int HW, int C, float inv) {
    GRID_STRIDE(q, N * HW * C) {
        int c = q % C, img = q / (HW * C);
        dx[q] = dy[img * C + c] * inv;
    }
}

// ---- loss and argmax: one thread per row ----

// softmax_xent: per-sample loss (double) of label-smoothed cross-entropy
// and, when dlogits is not null, the gradient of the batch mean.
extern "C" __global__ void softmax_xent(const float* logits, const int* labels, int rows, int k, float smoothing, float* dlogits, double* loss) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = logits + (long long)r * k;
    float mx = row[0];
    for (int j = 0; j < k; j++) mx = fmaxf(mx, row[j]);
    double z = 0.0;
    for (int j = 0; j < k; j++) z += exp((double)(row[j] - mx));
    double logZ = log(z) + (double)mx;
    double off = (double)smoothing / (double)k;
    double on = 1.0 - (double)smoothing + off;
    int lab = labels[r];
    double l = 0.0;
    for (int j = 0; j < k; j++) {
        double q = j == lab ? on : off;
        l -= q * ((double)row[j] - logZ);
        if (dlogits) dlogits[(long long)r * k + j] = (float)((exp((double)row[j] - logZ) - q) / (double)rows);
    }
    loss[r] = l;
}

extern "C" __global__ void argmax_rows(const float* logits, int rows, int k, int* out) {
    int r = blockIdx.x * blockDim.x + threadIdx.x;
    if (r >= rows) return;
    const float* row = logits + (long long)r * k;
    int best = 0;
    for (int j = 0; j < k; j++)
        if (row[j] > row[best]) best = j;
    out[r] = best;
}

// ---- top-k mask: a radix select of the threshold, 8 bits per pass ----

// topk_key orders floats as unsigned integers (−0 as +0).
__device__ unsigned topk_key(float f) {
    unsigned u = f == 0.0f ? 0u : __float_as_uint(f);
    return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

// topk_hist counts, among keys whose bits above shift+8 equal the prefix
// in state[0], each value of bits shift..shift+7. blockDim.x must be 256.
extern "C" __global__ void FIXED_BLOCK(256, 1) topk_hist(const float* s, int n, const unsigned* state, int shift, unsigned* hist) {
    __shared__ unsigned h[256];
    h[threadIdx.x] = 0;
    __syncthreads();
    unsigned prefix = state[0];
    unsigned himask = shift >= 24 ? 0u : (0xffffffffu << (shift + 8));
    GRID_STRIDE(i, n) {
        unsigned key = topk_key(s[i]);
        if ((key & himask) == (prefix & himask)) atomicAdd(&h[(key >> shift) & 255u], 1u);
    }
    __syncthreads();
    if (h[threadIdx.x]) atomicAdd(&hist[threadIdx.x], h[threadIdx.x]);
}

// topk_select: state = {prefix, remaining}; finds the bin that holds the
// remaining-th largest key, adds its bits to the prefix, takes the keys in
// higher bins off remaining, and clears the histogram for the next pass.
extern "C" __global__ void topk_select(unsigned* hist, unsigned* state, int shift) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    unsigned rem = state[1], above = 0;
    int b = 255;
    for (; b > 0; b--) {
        if (above + hist[b] >= rem) break;
        above += hist[b];
    }
    state[0] |= ((unsigned)b) << shift;
    state[1] = rem - above;
    for (int k = 0; k < 256; k++) hist[k] = 0;
}

// topk_ties: block b counts the keys equal to the threshold in its chunk.
extern "C" __global__ void topk_ties(const float* s, int n, const unsigned* state, int chunk, unsigned* counts) {
    __shared__ unsigned t;
    if (threadIdx.x == 0) t = 0;
    __syncthreads();
    int lo = blockIdx.x * chunk, hi = min(n, lo + chunk);
    unsigned thr = state[0], mine = 0;
    for (int i = lo + threadIdx.x; i < hi; i += blockDim.x) mine += topk_key(s[i]) == thr;
    if (mine) atomicAdd(&t, mine);
    __syncthreads();
    if (threadIdx.x == 0) counts[blockIdx.x] = t;
}

// topk_scan: exclusive prefix sums of the per-chunk tie counts, in place.
extern "C" __global__ void topk_scan(unsigned* counts, int nb) {
    if (blockIdx.x != 0 || threadIdx.x != 0) return;
    unsigned acc = 0;
    for (int b = 0; b < nb; b++) {
        unsigned c = counts[b];
        counts[b] = acc;
        acc += c;
    }
}

// topk_mask: keys above the threshold are kept, and the first state[1]
// keys equal to it in index order. blockDim.x must be 256: each tile of
// 256 ranks its ties by a scan in shared memory.
extern "C" __global__ void FIXED_BLOCK(256, 1) topk_mask(const float* s, float* m, int n, const unsigned* state, int chunk, const unsigned* offsets) {
    __shared__ unsigned sc[256];
    int lo = blockIdx.x * chunk, hi = min(n, lo + chunk);
    unsigned thr = state[0], keepTies = state[1];
    unsigned before = offsets[blockIdx.x];
    for (int base = lo; base < hi; base += 256) {
        int i = base + threadIdx.x;
        unsigned key = i < hi ? topk_key(s[i]) : 0u;
        unsigned tie = (i < hi && key == thr) ? 1u : 0u;
        sc[threadIdx.x] = tie;
        __syncthreads();
        for (unsigned d = 1; d < 256; d <<= 1) {
            unsigned v = threadIdx.x >= d ? sc[threadIdx.x - d] : 0u;
            __syncthreads();
            sc[threadIdx.x] += v;
            __syncthreads();
        }
        unsigned rank = before + sc[threadIdx.x] - tie; // ties before this one
        if (i < hi) m[i] = (key > thr || (tie && rank < keepTies)) ? 1.0f : 0.0f;
        before += sc[255];
        __syncthreads();
    }
}

// ---- transformer: layer norm, GELU, row softmax, heads, strided copy ----

// block_sum128 adds v over a block of 128 threads in a fixed tree (the
// same result every run); every thread gets the sum. sh holds 128 doubles.
__device__ double block_sum128(double v, double* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned k = 64; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] += sh[threadIdx.x + k];
        __syncthreads();
    }
    double r = sh[0];
    __syncthreads();
    return r;
}

__device__ float block_max128(float v, float* sh) {
    sh[threadIdx.x] = v;
    __syncthreads();
    for (unsigned k = 64; k > 0; k >>= 1) {
        if (threadIdx.x < k) sh[threadIdx.x] = fmaxf(sh[threadIdx.x], sh[threadIdx.x + k]);
        __syncthreads();
    }
    float r = sh[0];
    __syncthreads();
    return r;
}

// layernorm_forward: one block of 128 threads per row; mean and the biased
// variance in double, two passes (the second centred), as the CPU backend.
extern "C" __global__ void FIXED_BLOCK(128, 1) layernorm_forward(const float* x, float* y, const float* gamma, const float* beta, float* mean, float* rstd, int rows, int cols, float eps) {
    __shared__ double sh[128];
    int r = blockIdx.x;
    if (r >= rows) return;
    const float* xr = x + (long long)r * cols;
    double s = 0.0;
    for (int j = threadIdx.x; j < cols; j += 128) s += (double)xr[j];
    double m = block_sum128(s, sh) / (double)cols;
    double q = 0.0;
    for (int j = threadIdx.x; j < cols; j += 128) {
        double d = (double)xr[j] - m;
        q += d * d;
    }
    q = block_sum128(q, sh);
    float mf = (float)m;
    float rf = (float)(1.0 / sqrt(q / (double)cols + (double)eps));
    if (threadIdx.x == 0) {
        mean[r] = mf;
        rstd[r] = rf;
    }
    float* yr = y + (long long)r * cols;
    for (int j = threadIdx.x; j < cols; j += 128) yr[j] = (xr[j] - mf) * rf * gamma[j] + beta[j];
}

// layernorm_backward_dx: one block per row, g = dy·γ, x̂ = (x − μ)·rstd:
// dx = rstd·(g − Σg/C − x̂·Σ(g·x̂)/C).
extern "C" __global__ void FIXED_BLOCK(128, 1) layernorm_backward_dx(const float* x, const float* dy, float* dx, const float* gamma, const float* mean, const float* rstd, int rows, int cols) {
    __shared__ double sh[128];
    int r = blockIdx.x;
    if (r >= rows) return;
    long long o = (long long)r * cols;
    float m = mean[r], s = rstd[r];
    double a = 0.0, b = 0.0;
    for (int j = threadIdx.x; j < cols; j += 128) {
        float xh = (x[o + j] - m) * s;
        float g = dy[o + j] * gamma[j];
        a += (double)g;
        b += (double)g * (double)xh;
    }
    a = block_sum128(a, sh);
    b = block_sum128(b, sh);
    float ma = (float)(a / (double)cols), mb = (float)(b / (double)cols);
    for (int j = threadIdx.x; j < cols; j += 128) {
        float xh = (x[o + j] - m) * s;
        dx[o + j] = s * (dy[o + j] * gamma[j] - ma - xh * mb);
    }
}

// ln_grad_partial: per chunk of rpc rows and column, Σ dy·x̂ (row 2k of
// part) and Σ dy (row 2k+1); the grid and block of col_partial.
extern "C" __global__ void FIXED_BLOCK(32, 8) ln_grad_partial(const float* x, const float* dy, const float* mean, const float* rstd, int rows, int cols, int rpc, double* part) {
    __shared__ double s[8][33];
    __shared__ double q[8][33];
    int c = blockIdx.x * 32 + threadIdx.x;
    int r0 = blockIdx.y * rpc;
    int r1 = min(r0 + rpc, rows);
    double a = 0.0, b = 0.0;
    if (c < cols) {
        for (int r = r0 + threadIdx.y; r < r1; r += 8) {
            long long i = (long long)r * cols + c;
            float xh = (x[i] - mean[r]) * rstd[r];
            a += (double)dy[i] * (double)xh;
            b += (double)dy[i];
        }
    }
    store_col_pair(s, q, a, b, c, cols, part);
}

// ln_grad_finish: dγ and dβ, the chunks added in order.
extern "C" __global__ void ln_grad_finish(const double* part, int chunks, int cols, float* dgamma, float* dbeta) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= cols) return;
    double a = 0.0, b = 0.0;
    for (int k = 0; k < chunks; k++) {
        a += part[(long long)(2 * k) * cols + c];
        b += part[(long long)(2 * k + 1) * cols + c];
    }
    dgamma[c] = (float)a;
    dbeta[c] = (float)b;
}

// GELU, exact: x·Φ(x) with Φ(x) = ½(1 + erf(x/√2)).
extern "C" __global__ void gelu_forward(const float* x, float* y, int n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        y[i] = 0.5f * v * (1.0f + erff(v * 0.70710678118654752f));
    }
}
extern "C" __global__ void gelu_backward(const float* x, const float* dy, float* dx, int n) {
    GRID_STRIDE(i, n) {
        float v = x[i];
        float cdf = 0.5f * (1.0f + erff(v * 0.70710678118654752f));
        float pdf = expf(-0.5f * v * v) * 0.39894228040143267794f;
        dx[i] = dy[i] * (cdf + v * pdf);
    }
}

// softmax_rows: one block of 128 threads per row; y may be x (each thread
// reads and writes only its own columns, after the reductions).
extern "C" __global__ void FIXED_BLOCK(128, 1) softmax_rows(const float* x, float* y, int rows, int cols) {
    __shared__ double sh[128];
    __shared__ float shm[128];
    int r = blockIdx.x;
    if (r >= rows) return;
    long long o = (long long)r * cols;
    float m = NEG_INF;
    for (int j = threadIdx.x; j < cols; j += 128) m = fmaxf(m, x[o + j]);
    m = block_max128(m, shm);
    double s = 0.0;
    for (int j = threadIdx.x; j < cols; j += 128) s += (double)expf(x[o + j] - m);
    float inv = (float)(1.0 / block_sum128(s, sh));
    for (int j = threadIdx.x; j < cols; j += 128) y[o + j] = expf(x[o + j] - m) * inv;
}

// softmax_rows_backward: dx = y·(dy − Σ y·dy); dx may be dy.
extern "C" __global__ void FIXED_BLOCK(128, 1) softmax_rows_backward(const float* y, const float* dy, float* dx, int rows, int cols) {
    __shared__ double sh[128];
    int r = blockIdx.x;
    if (r >= rows) return;
    long long o = (long long)r * cols;
    double s = 0.0;
    for (int j = threadIdx.x; j < cols; j += 128) s += (double)y[o + j] * (double)dy[o + j];
    float sf = (float)block_sum128(s, sh);
    for (int j = threadIdx.x; j < cols; j += 128) dx[o + j] = y[o + j] * (dy[o + j] - sf);
}

// heads_permute: between the tokens [N, T, P·H·D] and the heads
// [P, N·H, T, D]; split copies tokens into heads, else heads into tokens.
// One thread per element, in the heads' order.
extern "C" __global__ void heads_permute(float* tok, float* hd, int N, int T, int P, int H, int D, int split) {
    int n = N * T * P * H * D;
    GRID_STRIDE(i, n) {
        int d = i % D, r = i / D;
        int t = r % T; r /= T;
        int h = r % H; r /= H;
        int s = r % N;
        int p = r / N;
        long long k = ((long long)s * T + t) * (P * H * D) + (p * H + h) * D + d;
        if (split) hd[i] = tok[k];
        else tok[k] = hd[i];
    }
}

// strided_copy: dst[dOff + r·dStride + j] = src[sOff + r·sStride + j].
extern "C" __global__ void strided_copy(float* dst, int dOff, int dStride, const float* src, int sOff, int sStride, int rows, int cols) {
    int n = rows * cols;
    GRID_STRIDE(i, n) {
        int r = i / cols, j = i % cols;
        dst[(long long)dOff + (long long)r * dStride + j] = src[(long long)sOff + (long long)r * sStride + j];
    }
}
