//! Signed 16.16 fixed point on `i32`, operation for operation what `shader.wgsl` does.
//!
//! WGSL has no 64-bit integers, so nothing here widens: products are split into 16-bit halves,
//! quotients come from a 16-step long division, square roots from a 24-step digit-by-digit
//! loop, all in `u32`/`i32`. Wherever WGSL would wrap, these functions wrap (`wrapping_*`);
//! shifts of negative values are arithmetic in both languages.

/// One, in 16.16.
pub const ONE: i32 = 1 << FRAC_BITS;
/// Fraction bits of the format.
pub const FRAC_BITS: u32 = 16;
/// What [`div`] returns when the quotient does not fit (or the divisor is zero), with the sign
/// of the quotient: 32767.99998.
pub const SATURATED: i32 = i32::MAX;

/// A 3-vector of 16.16 numbers.
pub type V3 = [i32; 3];

/// `floor(a * b / 2^16)`, wrapping where the result does not fit, like WGSL's `fmul`.
pub fn mul(a: i32, b: i32) -> i32 {
    let (ah, al) = (a >> 16, (a as u32) & 0xFFFF);
    let (bh, bl) = (b >> 16, (b as u32) & 0xFFFF);
    let low = ((al * bl) >> 16) as i32;
    (ah.wrapping_mul(bh) << 16)
        .wrapping_add(ah.wrapping_mul(bl as i32))
        .wrapping_add((al as i32).wrapping_mul(bh))
        .wrapping_add(low)
}

/// `a / b` in 16.16, truncated towards zero; [`SATURATED`] (signed) when it does not fit or
/// `b` is zero.
pub fn div(a: i32, b: i32) -> i32 {
    let negative = (a < 0) != (b < 0);
    let saturated = if negative { -SATURATED } else { SATURATED };
    if b == 0 {
        return if a < 0 { -SATURATED } else { SATURATED };
    }
    let (ua, ub) = (a.unsigned_abs(), b.unsigned_abs());
    let mut q = ua / ub;
    let mut r = ua % ub;
    if q >= 1 << 15 {
        return saturated;
    }
    for _ in 0..FRAC_BITS {
        // r < ub <= 2^31, so r << 1 fits in a u32.
        r <<= 1;
        q <<= 1;
        if r >= ub {
            r -= ub;
            q |= 1;
        }
    }
    let q = q as i32;
    if negative {
        -q
    } else {
        q
    }
}

/// `floor(sqrt(x))` in 16.16 (0 for `x <= 0`): the integer square root of `x * 2^16`, two bits
/// at a time, 24 steps.
pub fn sqrt(x: i32) -> i32 {
    if x <= 0 {
        return 0;
    }
    let n = x as u32;
    let (mut rem, mut root) = (0u32, 0u32);
    for i in 0..24u32 {
        let pair = if i < 16 { (n >> (30 - 2 * i)) & 3 } else { 0 };
        rem = (rem << 2) | pair;
        root <<= 1;
        let trial = (root << 1) | 1;
        if rem >= trial {
            rem -= trial;
            root |= 1;
        }
    }
    root as i32
}

/// `a + b`, wrapping.
pub fn add(a: V3, b: V3) -> V3 {
    [
        a[0].wrapping_add(b[0]),
        a[1].wrapping_add(b[1]),
        a[2].wrapping_add(b[2]),
    ]
}

/// `a - b`, wrapping.
pub fn sub(a: V3, b: V3) -> V3 {
    [
        a[0].wrapping_sub(b[0]),
        a[1].wrapping_sub(b[1]),
        a[2].wrapping_sub(b[2]),
    ]
}

/// `v * s`, each component with [`mul`].
pub fn scale(v: V3, s: i32) -> V3 {
    [mul(v[0], s), mul(v[1], s), mul(v[2], s)]
}

/// `a · b` with [`mul`], summed left to right, wrapping.
pub fn dot(a: V3, b: V3) -> i32 {
    mul(a[0], b[0])
        .wrapping_add(mul(a[1], b[1]))
        .wrapping_add(mul(a[2], b[2]))
}

/// `|v|`.
pub fn length(v: V3) -> i32 {
    sqrt(dot(v, v))
}

/// `v / |v|` (zero stays zero).
pub fn normalize(v: V3) -> V3 {
    let len = length(v);
    if len == 0 {
        return [0; 3];
    }
    [div(v[0], len), div(v[1], len), div(v[2], len)]
}

/// `a × b`.
pub fn cross(a: V3, b: V3) -> V3 {
    [
        mul(a[1], b[2]).wrapping_sub(mul(a[2], b[1])),
        mul(a[2], b[0]).wrapping_sub(mul(a[0], b[2])),
        mul(a[0], b[1]).wrapping_sub(mul(a[1], b[0])),
    ]
}

/// `d` mirrored about the unit normal `n`: `d - 2 (d · n) n`.
pub fn reflect(d: V3, n: V3) -> V3 {
    let k = dot(d, n).wrapping_mul(2);
    sub(d, scale(n, k))
}

/// A real number in 16.16, rounded to nearest (for building scenes; never in the tracer).
pub fn from_f64(x: f64) -> i32 {
    (x * f64::from(ONE)).round() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn to_f64(x: i32) -> f64 {
        f64::from(x) / f64::from(ONE)
    }

    #[test]
    fn mul_is_the_floor_of_the_exact_product() {
        for a in [
            -5 * ONE - 123,
            -ONE,
            -1,
            0,
            1,
            77_777,
            ONE,
            3 * ONE + 9,
            181 * ONE,
        ] {
            for b in [
                -(7 << 15) - 5,
                -3,
                0,
                5,
                65_535,
                ONE,
                2 * ONE + 1,
                150 * ONE,
            ] {
                let exact = (i64::from(a) * i64::from(b)) >> 16;
                assert_eq!(i64::from(mul(a, b)), exact, "{a} * {b}");
            }
        }
    }

    #[test]
    fn div_truncates_and_saturates() {
        assert_eq!(div(ONE, 2 * ONE), ONE / 2);
        assert_eq!(div(-3 * ONE, 2 * ONE), -3 * ONE / 2);
        assert_eq!(div(ONE, 3 * ONE), 21_845);
        assert_eq!(div(-ONE, 3 * ONE), -21_845);
        assert_eq!(div(ONE, 0), SATURATED);
        assert_eq!(div(-ONE, 0), -SATURATED);
        assert_eq!(div(1000 * ONE, 1), SATURATED);
        assert_eq!(div(i32::MIN, -ONE), SATURATED);
        for (a, b) in [
            (12_345_678, 98_765),
            (-7, 3),
            (ONE, 7 * ONE),
            (i32::MAX, i32::MAX),
        ] {
            let exact = (i64::from(a) << 16) / i64::from(b);
            assert_eq!(i64::from(div(a, b)), exact, "{a} / {b}");
        }
    }

    #[test]
    fn sqrt_is_the_floor_of_the_exact_root() {
        for x in [
            1,
            2,
            3,
            ONE / 4,
            ONE,
            2 * ONE,
            3 * ONE + 17,
            1 << 30,
            i32::MAX,
        ] {
            let exact = ((f64::from(x) * f64::from(ONE)).sqrt()).floor();
            assert_eq!(f64::from(sqrt(x)), exact, "sqrt({})", to_f64(x));
        }
        assert_eq!(sqrt(0), 0);
        assert_eq!(sqrt(-ONE), 0);
    }

    #[test]
    fn vectors_normalise_and_reflect() {
        let n = normalize([3 * ONE, 0, 4 * ONE]);
        assert!((to_f64(n[0]) - 0.6).abs() < 1e-4 && (to_f64(n[2]) - 0.8).abs() < 1e-4);
        let r = reflect(normalize([ONE, -ONE, 0]), [0, ONE, 0]);
        assert!(r[1] > 0 && (r[0] - r[1]).abs() <= 2);
        assert_eq!(cross([ONE, 0, 0], [0, ONE, 0]), [0, 0, ONE]);
    }
}
