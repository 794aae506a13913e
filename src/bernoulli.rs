//! Bernoulli sampling of a matrix of probabilities, vectorised: four Xoshiro256++ generators
//! stepped together in the lanes of one register, their words compared with the probabilities
//! eight (`f32`) or four (`f64`) at a time.
//!
//! The state of each lane is that of `rand_xoshiro`'s `Xoshiro256PlusPlus` (the unit tests check
//! each lane's words against it), so the lanes are four streams of the same generator; they are
//! seeded with sixteen consecutive words of SplitMix64 started at a block's seed
//! ([`crate::parallel::block_seed`]).

use crate::kernels::{self, Isa, Kernel};
use crate::Float;

/// Lanes: generators stepped together.
const LANES: usize = 4;

/// Four Xoshiro256++ generators; `s[i][l]` is word `i` of lane `l`'s state.
#[derive(Clone, Copy, Debug)]
pub(crate) struct LaneRng {
    s: [[u64; LANES]; 4],
}

/// SplitMix64: the generator that seeds the lanes (as `rand`'s `seed_from_u64` seeds a
/// Xoshiro256++).
fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl LaneRng {
    /// Lanes seeded from `seed`: lane `l`'s state is SplitMix64's words `4l .. 4l + 4`.
    pub(crate) fn new(seed: u64) -> Self {
        let mut sm = seed;
        let mut s = [[0u64; LANES]; 4];
        for l in 0..LANES {
            for word in &mut s {
                word[l] = splitmix(&mut sm);
            }
        }
        // An all-zero state would stay zero; SplitMix64 never gives four zero words in a row
        // (it is a bijection of its counter), but keep the guarantee explicit.
        for l in 0..LANES {
            if s.iter().all(|w| w[l] == 0) {
                s[0][l] = 1;
            }
        }
        Self { s }
    }

    /// The next word of each lane (Xoshiro256++).
    #[inline(always)]
    fn next(&mut self) -> [u64; LANES] {
        let s = &mut self.s;
        let mut out = [0u64; LANES];
        for l in 0..LANES {
            out[l] = s[0][l]
                .wrapping_add(s[3][l])
                .rotate_left(23)
                .wrapping_add(s[0][l]);
            let t = s[1][l] << 17;
            s[2][l] ^= s[0][l];
            s[3][l] ^= s[1][l];
            s[1][l] ^= s[2][l];
            s[0][l] ^= s[3][l];
            s[2][l] ^= t;
            s[3][l] = s[3][l].rotate_left(45);
        }
        out
    }
}

/// `out[i] ← 1` with probability `probs[i]`, else `0`, for a column; `probs` and `out` have the
/// same length. A uniform `u` on a grid of `2^-24` (`f32`) or `2^-52` (`f64`) in `[0, 1)` is
/// drawn for each value and the state is 1 when `u < p` (so `p ≤ 0` gives 0, `p ≥ 1` gives 1,
/// and NaN gives 0). Each call starts on a fresh word of every lane.
pub(crate) fn fill<T: Float>(probs: &[T], out: &mut [T], rng: &mut LaneRng) {
    assert_eq!(probs.len(), out.len());
    kernels::run(&mut Fill { probs, out, rng })
}

struct Fill<'a, T> {
    probs: &'a [T],
    out: &'a mut [T],
    rng: &'a mut LaneRng,
}

impl<T: Float> Kernel for Fill<'_, T> {
    #[inline(always)]
    fn run(&mut self, _isa: Isa) {
        if let (Some(p), Some(o)) = (kernels::cast(self.probs), kernels::cast_mut(self.out)) {
            fill_f32(p, o, self.rng)
        } else if let (Some(p), Some(o)) = (kernels::cast(self.probs), kernels::cast_mut(self.out))
        {
            fill_f64(p, o, self.rng)
        } else {
            unreachable!("Float is implemented for f32 and f64 only")
        }
    }
}

/// Eight values per step: the top 24 bits of each lane's word, then bits 8..32.
#[inline(always)]
fn fill_f32(probs: &[f32], out: &mut [f32], rng: &mut LaneRng) {
    const SCALE: f32 = 1.0 / (1u32 << 24) as f32;
    #[inline(always)]
    fn eight(w: [u64; LANES], p: &[f32; 2 * LANES], o: &mut [f32; 2 * LANES]) {
        for l in 0..LANES {
            let hi = (w[l] >> 40) as u32;
            let lo = (w[l] >> 8) as u32 & 0xff_ffff;
            o[l] = if (hi as f32 * SCALE) < p[l] { 1.0 } else { 0.0 };
            o[l + LANES] = if (lo as f32 * SCALE) < p[l + LANES] {
                1.0
            } else {
                0.0
            };
        }
    }
    let mut r = *rng;
    let mut ps = probs.chunks_exact(2 * LANES);
    let mut os = out.chunks_exact_mut(2 * LANES);
    for (p, o) in (&mut ps).zip(&mut os) {
        let (p, o) = (p.try_into().expect("8"), o.try_into().expect("8"));
        eight(r.next(), p, o);
    }
    let (p, o) = (ps.remainder(), os.into_remainder());
    if !p.is_empty() {
        let (mut pp, mut oo) = ([0f32; 2 * LANES], [0f32; 2 * LANES]);
        pp[..p.len()].copy_from_slice(p);
        eight(r.next(), &pp, &mut oo);
        o.copy_from_slice(&oo[..o.len()]);
    }
    *rng = r;
}

/// Four values per step: 52 bits of each lane's word as the fraction of a number in `[1, 2)`.
#[inline(always)]
fn fill_f64(probs: &[f64], out: &mut [f64], rng: &mut LaneRng) {
    #[inline(always)]
    fn four(w: [u64; LANES], p: &[f64; LANES], o: &mut [f64; LANES]) {
        for l in 0..LANES {
            let u = f64::from_bits(0x3FF0_0000_0000_0000 | (w[l] >> 12)) - 1.0;
            o[l] = if u < p[l] { 1.0 } else { 0.0 };
        }
    }
    let mut r = *rng;
    let mut ps = probs.chunks_exact(LANES);
    let mut os = out.chunks_exact_mut(LANES);
    for (p, o) in (&mut ps).zip(&mut os) {
        let (p, o) = (p.try_into().expect("4"), o.try_into().expect("4"));
        four(r.next(), p, o);
    }
    let (p, o) = (ps.remainder(), os.into_remainder());
    if !p.is_empty() {
        let (mut pp, mut oo) = ([0f64; LANES], [0f64; LANES]);
        pp[..p.len()].copy_from_slice(p);
        four(r.next(), &pp, &mut oo);
        o.copy_from_slice(&oo[..o.len()]);
    }
    *rng = r;
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_xoshiro::Xoshiro256PlusPlus;

    #[test]
    fn each_lane_is_xoshiro256plusplus() {
        for seed in [0u64, 1, 42, u64::MAX] {
            let mut lanes = LaneRng::new(seed);
            let mut refs: Vec<Xoshiro256PlusPlus> = (0..LANES)
                .map(|l| {
                    let mut bytes = [0u8; 32];
                    for (i, chunk) in bytes.chunks_exact_mut(8).enumerate() {
                        chunk.copy_from_slice(&lanes.s[i][l].to_le_bytes());
                    }
                    Xoshiro256PlusPlus::from_seed(bytes)
                })
                .collect();
            for _ in 0..100 {
                let w = lanes.next();
                for (l, r) in refs.iter_mut().enumerate() {
                    assert_eq!(w[l], r.next_u64(), "seed {seed}, lane {l}");
                }
            }
        }
        // lane 0 of seed s is rand's seed_from_u64(s): SplitMix64 seeds the same way
        let mut lanes = LaneRng::new(7);
        let mut r = Xoshiro256PlusPlus::seed_from_u64(7);
        for _ in 0..10 {
            assert_eq!(lanes.next()[0], r.next_u64());
        }
    }

    #[test]
    fn lanes_differ() {
        let mut lanes = LaneRng::new(3);
        let w = lanes.next();
        for a in 0..LANES {
            for b in a + 1..LANES {
                assert_ne!(w[a], w[b]);
            }
        }
    }

    /// The words of a fill, in the order `fill` uses them, as uniforms on the type's grid.
    fn uniforms_f32(seed: u64, n: usize) -> Vec<f32> {
        let mut r = LaneRng::new(seed);
        let mut u = Vec::new();
        while u.len() < n {
            let w = r.next();
            u.extend(w.iter().map(|&w| (w >> 40) as f32 / (1u32 << 24) as f32));
            u.extend(
                w.iter()
                    .map(|&w| ((w >> 8) & 0xff_ffff) as f32 / (1u32 << 24) as f32),
            );
        }
        u.truncate(n);
        u
    }

    /// `fill` of `p` from `LaneRng::new(seed)` through the build for `isa`.
    fn fill_as<T: Float>(p: &[T], seed: u64, isa: Isa) -> Vec<T> {
        let mut r = LaneRng::new(seed);
        let mut out = vec![T::of_f64(0.5); p.len()];
        kernels::run_as(
            &mut Fill {
                probs: p,
                out: &mut out,
                rng: &mut r,
            },
            isa,
        );
        out
    }

    #[test]
    fn states_follow_the_uniforms_and_the_probabilities() {
        // each state is exactly [u < p] for the uniform drawn for its place, in every build
        for n in [1usize, 3, 8, 13, 64, 100] {
            let u = uniforms_f32(11, n);
            let p: Vec<f32> = (0..n).map(|i| ((i * 37) % 101) as f32 / 100.0).collect();
            let want: Vec<f32> = u
                .iter()
                .zip(&p)
                .map(|(u, p)| if u < p { 1.0 } else { 0.0 })
                .collect();
            for isa in kernels::tests_levels() {
                assert_eq!(fill_as(&p, 11, isa), want, "n = {n}, {isa:?} build");
            }
        }
        // f64: 52-bit uniforms, one per lane word
        let mut r = LaneRng::new(5);
        let mut words = Vec::new();
        for _ in 0..3 {
            words.extend(r.next());
        }
        let n = 10;
        let p: Vec<f64> = (0..n).map(|i| i as f64 / 9.0).collect();
        let want: Vec<f64> = words[..n]
            .iter()
            .zip(&p)
            .map(|(&w, &p)| {
                let u = (w >> 12) as f64 / (1u64 << 52) as f64;
                if u < p {
                    1.0
                } else {
                    0.0
                }
            })
            .collect();
        for isa in kernels::tests_levels() {
            assert_eq!(fill_as(&p, 5, isa), want, "f64, {isa:?} build");
        }
    }

    #[test]
    fn frequencies_match_the_probabilities() {
        // 2·10⁵ draws per probability: the frequency is within 5 standard deviations
        let n = 200_000;
        for &p in &[0.0f64, 1e-3, 0.2, 0.5, 0.77, 1.0] {
            let mut r = LaneRng::new(99);
            let probs32 = vec![p as f32; n];
            let mut out32 = vec![0f32; n];
            fill(&probs32, &mut out32, &mut r);
            let probs64 = vec![p; n];
            let mut out64 = vec![0f64; n];
            fill(&probs64, &mut out64, &mut r);
            let sd = (p * (1.0 - p) / n as f64).sqrt();
            for f in [
                out32.iter().map(|&x| x as f64).sum::<f64>() / n as f64,
                out64.iter().sum::<f64>() / n as f64,
            ] {
                assert!((f - p).abs() <= 5.0 * sd + 1e-12, "p = {p}: frequency {f}");
            }
        }
        // NaN gives 0, p > 1 gives 1
        let mut r = LaneRng::new(1);
        let mut out = [0.5f32; 3];
        fill(&[f32::NAN, 2.0, -1.0], &mut out, &mut r);
        assert_eq!(out, [0.0, 1.0, 0.0]);
    }
}
