#ifndef CVECTORMATH_H
#define CVECTORMATH_H

// Lane-wise square root for Swift's SIMD8<Float> (Clang's ext_vector_type(8) float imports as SIMD8<Float>).
// Swift's SIMD8.squareRoot() lowers to eight libm sqrtf calls with errno checks; this builtin is one
// vector instruction per four or eight lanes, correctly rounded like the scalar one.
typedef float fuse_float8 __attribute__((ext_vector_type(8)));

static inline __attribute__((always_inline)) fuse_float8 fuse_sqrt8(fuse_float8 x) {
    return __builtin_elementwise_sqrt(x);
}

#endif
