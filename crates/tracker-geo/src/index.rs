//! The tracker's spatial index: a mutable, bucketed k-d tree over unit-sphere points
//! ([`crate::geo`]), built for a churn workload (peers join, heartbeat, leave and expire
//! continuously) and for small-`k` nearest-neighbour queries.
//!
//! * Points live in leaf buckets of up to [`BUCKET`] entries, stored inline in the leaf
//!   array as structure-of-arrays (`x`, `y`, `z`, item; vacant slots at infinity), so a
//!   search reaches a bucket's points without a pointer chase and its distance loop
//!   vectorizes. A full bucket is split at the median of its widest axis; points equal to
//!   the split value go right, so every point has exactly one path and a removal finds it
//!   with one descent.
//! * Each split node (one 64-byte cache line) holds a tight bounding box of each child's
//!   points, grown by insertions and recomputed by rebuilds (a removal leaves it
//!   conservative). The search visits the nearer box first and prunes a box no closer
//!   than the current k-th distance; the k best so far are kept in a max-heap.
//! * Identical coordinates are allowed in any number (thousands of viewers geolocated to
//!   one city centre): a bucket whose points cannot be separated on any axis grows past
//!   `BUCKET`, and is offered a split again only when it has doubled.
//! * Balance: each split node counts the points below it. When an insertion lands deeper
//!   than `2·log2(leaves) + 8`, the highest split on its path whose heavier side holds
//!   more than 3/4 of its points is rebuilt with median splits (a scapegoat rebuild), so
//!   sorted or adversarial insertion orders cannot degrade the depth. A removal collapses
//!   any subtree left with at most `BUCKET / 2` points into one bucket, and the whole tree
//!   is rebuilt if buckets become sparse on average (less than `BUCKET / 8` points each).
//! * [`SphereIndex::nearest_into`] is an exact depth-first k-nearest search. Its box
//!   bound is computed with the same `f32` operations, in the same order, as
//!   [`crate::geo::chord2`], and is therefore never larger than the computed distance of
//!   any point in the box: the answer equals a brute-force scan (property-tested in
//!   `tests/tracker_model.rs` and below).
//!
//! Why not `rstar` or `kiddo` (measured side by side in `benches/benches/tracker.rs`, see
//! `docs/benchmarks.md`): over 10^6 clustered points the raw 20-NN query of this index
//! takes 5.2 µs, against 10.8 µs for `rstar`'s R*-tree, whose lazy nearest-neighbour
//! iterator keeps a binary heap of 48-byte node enums, and 69 µs for `kiddo` 6's mutable
//! tree built by the same insertions, which does not rebalance and rejects an insertion
//! (`UnsplittableBucket`) once a bucket fills with points sharing one value on the split
//! axis — every peer of a city sharing a latitude shares `z`.

use core::mem::size_of;

use crate::Error;
use crate::geo::chord2;

/// Points per leaf bucket before it splits.
pub const BUCKET: usize = 64;

const LEAF: u32 = 1 << 31;
/// Most points one index holds (the node's point count has 30 bits).
pub const MAX_POINTS: u32 = (1 << 30) - 1;
/// Largest coordinate magnitude accepted for a point or a query (2^60). Any two points
/// within this bound have a squared distance below `3 · (2^61)^2 < f32::MAX`, so every
/// distance the search computes is finite and every stored point can be returned (a
/// point with an infinite distance to everything would be stored and never found).
pub const MAX_COORD: f32 = 1_152_921_504_606_846_976.0;
const ALPHA_NUM: u32 = 3; // scapegoat threshold: heavier side > 3/4 of the node
const ALPHA_DEN: u32 = 4;

/// One indexed point: a unit-sphere position and the caller's item (the tracker's slot).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Entry {
    /// Position on the unit sphere.
    pub p: [f32; 3],
    /// The caller's item.
    pub item: u32,
}

/// A split node: exactly one 64-byte cache line.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
struct Split {
    at: f32,
    /// Split axis in the top 2 bits, number of points below in the low 30.
    meta: u32,
    child: [u32; 2],
    /// Bounding box of each child's points (grown by insertions, recomputed by
    /// rebuilds; a removal leaves it conservative).
    bbox: [Aabb; 2],
}

impl Split {
    #[inline]
    fn dim(&self) -> usize {
        (self.meta >> 30) as usize
    }

    #[inline]
    fn count(&self) -> u32 {
        self.meta & MAX_POINTS
    }
}

/// An axis-aligned box `[lo, hi]`; empty when `lo > hi`.
#[derive(Clone, Copy, Debug)]
struct Aabb {
    lo: [f32; 3],
    hi: [f32; 3],
}

impl Aabb {
    const EMPTY: Aabb = Aabb { lo: [f32::INFINITY; 3], hi: [f32::NEG_INFINITY; 3] };

    fn of(entries: &[Entry]) -> Aabb {
        let mut b = Aabb::EMPTY;
        for e in entries {
            b.grow(&e.p);
        }
        b
    }

    #[inline]
    fn grow(&mut self, p: &[f32; 3]) {
        for (d, &c) in p.iter().enumerate() {
            self.lo[d] = self.lo[d].min(c);
            self.hi[d] = self.hi[d].max(c);
        }
    }

    /// Lower bound of [`chord2`] from `q` to any point in the box, computed with the
    /// same `f32` operations in the same order (so never above the computed distance of
    /// a point inside); infinite for an empty box.
    #[inline]
    fn dist2(&self, q: &[f32; 3]) -> f32 {
        // Each term is exactly `lo - q`, `q - hi` or 0; an empty box gives infinity.
        let t = |d: usize| (self.lo[d] - q[d]).max(q[d] - self.hi[d]).max(0.0);
        let (t0, t1, t2) = (t(0), t(1), t(2));
        t2 * t2 + (t1 * t1 + (t0 * t0 + 0.0))
    }
}

/// A bucket, stored inline in the leaf array (no pointer to chase during a search), as
/// structure-of-arrays so the distance loop vectorizes.
#[derive(Clone, Debug)]
struct Leaf {
    len: u32,
    /// Size at which a split is next attempted (doubles after a failed attempt).
    limit: u32,
    /// Coordinates by axis; vacant slots hold infinity (never nearer than anything).
    xyz: [[f32; BUCKET]; 3],
    item: [u32; BUCKET],
    /// Entries beyond `BUCKET`: only in a bucket of identical points.
    overflow: Vec<Entry>,
}

impl Leaf {
    const EMPTY: Leaf = Leaf {
        len: 0,
        limit: BUCKET as u32,
        xyz: [[f32::INFINITY; BUCKET]; 3],
        item: [u32::MAX; BUCKET],
        overflow: Vec::new(),
    };

    fn len(&self) -> usize {
        self.len as usize + self.overflow.len()
    }

    fn get(&self, i: usize) -> Entry {
        match self.overflow.get(i.wrapping_sub(self.len as usize)) {
            Some(e) if i >= self.len as usize => *e,
            _ => Entry { p: [self.xyz[0][i], self.xyz[1][i], self.xyz[2][i]], item: self.item[i] },
        }
    }

    fn set(&mut self, i: usize, e: Entry) {
        if i < BUCKET {
            for d in 0..3 {
                self.xyz[d][i] = e.p[d];
            }
            self.item[i] = e.item;
        }
    }

    fn push(&mut self, e: Entry) {
        if (self.len as usize) < BUCKET {
            self.set(self.len as usize, e);
            self.len += 1;
        } else {
            self.overflow.push(e);
        }
    }

    fn swap_remove(&mut self, i: usize) {
        let last = match self.overflow.pop() {
            Some(e) => e,
            None => {
                self.len -= 1;
                let last = self.get(self.len as usize);
                self.set(self.len as usize, Entry { p: [f32::INFINITY; 3], item: u32::MAX });
                last
            }
        };
        if i < self.len as usize {
            self.set(i, last);
        } else if let Some(slot) = self.overflow.get_mut(i - self.len as usize) {
            *slot = last;
        }
    }

    fn drain_into(&mut self, out: &mut Vec<Entry>) {
        out.extend((0..self.len as usize).map(|i| self.get(i)));
        out.append(&mut self.overflow);
        *self = Leaf::EMPTY;
    }
}

/// A mutable k-d tree of unit-sphere points with `u32` items (see the module docs).
///
/// ```
/// use tracker_geo::{GeoPoint, index::SphereIndex};
///
/// let mut index = SphereIndex::new();
/// let paris = GeoPoint::new(48.86, 2.35)?.to_unit();
/// let london = GeoPoint::new(51.51, -0.13)?.to_unit();
/// index.insert(paris, 1)?;
/// index.insert(london, 2)?;
/// let mut near = Vec::new();
/// index.nearest_into(&GeoPoint::new(50.85, 4.35)?.to_unit(), 1, &mut near)?;
/// assert_eq!(near[0].1, 1);
/// assert!(index.remove(paris, 1));
/// assert_eq!(index.len(), 1);
/// # Ok::<(), tracker_geo::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct SphereIndex {
    splits: Vec<Split>,
    leaves: Vec<Leaf>,
    free_splits: Vec<u32>,
    free_leaves: Vec<u32>,
    root: u32,
    len: usize,
    path: Vec<u32>,
}

impl Default for SphereIndex {
    fn default() -> Self {
        SphereIndex::new()
    }
}

impl SphereIndex {
    /// An empty index.
    pub fn new() -> Self {
        SphereIndex {
            splits: Vec::new(),
            leaves: vec![Leaf::EMPTY],
            free_splits: Vec::new(),
            free_leaves: Vec::new(),
            root: LEAF,
            len: 0,
            path: Vec::new(),
        }
    }

    /// Number of points held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the index is empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Adds `item` at `p`. Any number of entries may share a position or an item.
    /// Fails with [`Error::NonFinitePoint`] if a coordinate is not finite,
    /// [`Error::PointOutOfRange`] if one exceeds [`MAX_COORD`] in magnitude, or
    /// [`Error::Full`] beyond [`MAX_POINTS`].
    pub fn insert(&mut self, p: [f32; 3], item: u32) -> Result<(), Error> {
        check_point(&p)?;
        if self.len >= MAX_POINTS as usize {
            return Err(Error::Full { capacity: MAX_POINTS as usize });
        }
        let mut path = core::mem::take(&mut self.path);
        path.clear();
        let mut r = self.root;
        while r & LEAF == 0 {
            path.push(r);
            let s = &mut self.splits[r as usize];
            s.meta += 1;
            let side = usize::from(p[s.dim()] >= s.at);
            s.bbox[side].grow(&p);
            r = s.child[side];
        }
        let li = (r & !LEAF) as usize;
        let leaf = &mut self.leaves[li];
        leaf.push(Entry { p, item });
        self.len += 1;
        if leaf.len() >= leaf.limit as usize {
            let mut entries = Vec::with_capacity(leaf.len());
            leaf.drain_into(&mut entries);
            self.free_leaves.push(r & !LEAF);
            let (new, bbox) = self.build(&mut entries);
            if new & LEAF != 0 {
                // Unsplittable (all points identical): keep growing, retry at twice the size.
                let l = &mut self.leaves[(new & !LEAF) as usize];
                l.limit = (entries.len() as u32).saturating_mul(2);
            }
            self.relink(path.last().copied(), r, new, bbox);
        }
        let leaves = self.leaves.len() - self.free_leaves.len();
        if path.len() > 2 * (usize::BITS - leaves.leading_zeros()) as usize + 8 {
            let total = |s: &Split| s.count();
            let scapegoat = path.iter().position(|&n| {
                let s = &self.splits[n as usize];
                let heavy = self.count(s.child[0]).max(self.count(s.child[1]));
                heavy * ALPHA_DEN > total(s) * ALPHA_NUM
            });
            if let Some(i) = scapegoat {
                let parent = i.checked_sub(1).map(|j| path[j]);
                self.rebuild(parent, path[i]);
            }
        }
        self.path = path;
        Ok(())
    }

    /// Removes one entry equal to (`p`, `item`); returns whether one was found.
    pub fn remove(&mut self, p: [f32; 3], item: u32) -> bool {
        let found = self.remove_local(p, item);
        if found {
            self.rebuild_if_sparse();
        }
        found
    }

    /// [`SphereIndex::remove`] with bounded work: it collapses a small subtree (at most
    /// `BUCKET / 2` points) if the removal leaves one, but never rebuilds the whole
    /// tree; call [`SphereIndex::rebuild_if_sparse`] later (the tracker's ranked query
    /// evicts with this and leaves the rebuild to `expire`).
    pub fn remove_local(&mut self, p: [f32; 3], item: u32) -> bool {
        let mut path = core::mem::take(&mut self.path);
        path.clear();
        let mut r = self.root;
        while r & LEAF == 0 {
            path.push(r);
            let s = &self.splits[r as usize];
            r = s.child[usize::from(p[s.dim()] >= s.at)];
        }
        let leaf = &mut self.leaves[(r & !LEAF) as usize];
        let Some(at) = (0..leaf.len()).position(|i| leaf.get(i) == Entry { p, item }) else {
            self.path = path;
            return false;
        };
        leaf.swap_remove(at);
        self.len -= 1;
        for &n in &path {
            self.splits[n as usize].meta -= 1;
        }
        // Collapse the highest subtree left with at most BUCKET / 2 points.
        if let Some(i) = path.iter().position(|&n| self.splits[n as usize].count() as usize <= BUCKET / 2) {
            let parent = i.checked_sub(1).map(|j| path[j]);
            self.rebuild(parent, path[i]);
        }
        self.path = path;
        true
    }

    /// Rebuilds the whole tree if its buckets hold fewer than `BUCKET / 8` points on
    /// average (time proportional to the points held); returns whether it did.
    pub fn rebuild_if_sparse(&mut self) -> bool {
        let leaves = self.leaves.len() - self.free_leaves.len();
        if leaves > 1 && leaves * (BUCKET / 8) > self.len {
            self.rebuild(None, self.root);
            return true;
        }
        false
    }

    /// The `n` entries nearest to `q` by squared chord distance ([`chord2`]), nearest
    /// first, as `(distance², item)`, into `out` (cleared first). Exact: equal to a
    /// brute-force scan up to the order among equal distances. A query point that is
    /// not finite ([`Error::NonFinitePoint`]) or beyond [`MAX_COORD`]
    /// ([`Error::PointOutOfRange`]) is an error, with `out` left empty.
    pub fn nearest_into(&self, q: &[f32; 3], n: usize, out: &mut Vec<(f32, u32)>) -> Result<(), Error> {
        self.nearest_unsorted_into(q, n, out)?;
        out.sort_unstable_by(|a, b| a.0.total_cmp(&b.0));
        Ok(())
    }

    /// [`SphereIndex::nearest_into`] without the final sort: the same entries, in no
    /// particular order.
    pub fn nearest_unsorted_into(
        &self,
        q: &[f32; 3],
        n: usize,
        out: &mut Vec<(f32, u32)>,
    ) -> Result<(), Error> {
        out.clear();
        check_point(q)?;
        if n == 0 || self.len == 0 {
            return Ok(());
        }
        let n = n.min(self.len);
        out.reserve(n);
        let mut knn = Knn { n, heap: out, worst: f32::INFINITY };
        self.search(self.root, q, &mut knn);
        Ok(())
    }

    /// Estimated heap bytes held (buckets at their allocated capacity).
    pub fn memory_bytes(&self) -> usize {
        self.splits.capacity() * size_of::<Split>()
            + self.leaves.capacity() * size_of::<Leaf>()
            + self.leaves.iter().map(|l| l.overflow.capacity() * size_of::<Entry>()).sum::<usize>()
            + (self.free_splits.capacity() + self.free_leaves.capacity() + self.path.capacity())
                * size_of::<u32>()
    }

    /// Depth of the deepest leaf (0 for a single bucket).
    pub fn depth(&self) -> usize {
        fn go(ix: &SphereIndex, r: u32) -> usize {
            if r & LEAF != 0 {
                return 0;
            }
            let s = &ix.splits[r as usize];
            1 + go(ix, s.child[0]).max(go(ix, s.child[1]))
        }
        go(self, self.root)
    }

    fn search(&self, r: u32, q: &[f32; 3], knn: &mut Knn<'_>) {
        if r & LEAF != 0 {
            let leaf = &self.leaves[(r & !LEAF) as usize];
            // All BUCKET slots: vacant ones are at infinity. A fixed-size loop vectorizes.
            // Whole cache lines of each axis up to the bucket's length: slots past `len`
            // are vacant (at infinity), so rounding up is harmless and keeps the loop
            // vectorized.
            let m = (leaf.len as usize).div_ceil(16).saturating_mul(16).min(BUCKET);
            let [xs, ys, zs] = &leaf.xyz;
            let mut d = [0.0f32; BUCKET];
            for (d, ((x, y), z)) in d[..m].iter_mut().zip(xs[..m].iter().zip(&ys[..m]).zip(&zs[..m])) {
                // Exactly `chord2(&p, q)`, operation for operation.
                let (dx, dy, dz) = (x - q[0], y - q[1], z - q[2]);
                *d = dz * dz + (dy * dy + (dx * dx + 0.0));
            }
            for (&d, &item) in d[..m].iter().zip(&leaf.item[..m]) {
                if d < knn.worst {
                    knn.push(d, item);
                }
            }
            for e in &leaf.overflow {
                let d = chord2(&e.p, q);
                if d < knn.worst {
                    knn.push(d, e.item);
                }
            }
            return;
        }
        let s = &self.splits[r as usize];
        let (d0, d1) = (s.bbox[0].dist2(q), s.bbox[1].dist2(q));
        let (first, df, second, ds) =
            if d0 <= d1 { (s.child[0], d0, s.child[1], d1) } else { (s.child[1], d1, s.child[0], d0) };
        if df < knn.worst {
            self.search(first, q, knn);
        }
        if ds < knn.worst {
            self.search(second, q, knn);
        }
    }

    fn count(&self, r: u32) -> u32 {
        if r & LEAF != 0 {
            self.leaves[(r & !LEAF) as usize].len() as u32
        } else {
            self.splits[r as usize].count()
        }
    }

    /// Points `parent`'s child `old` (or the root) at `new`, whose points span `bbox`.
    fn relink(&mut self, parent: Option<u32>, old: u32, new: u32, bbox: Aabb) {
        match parent {
            Some(p) => {
                let s = &mut self.splits[p as usize];
                let side = usize::from(s.child[1] == old);
                s.child[side] = new;
                s.bbox[side] = bbox;
            }
            None => self.root = new,
        }
    }

    /// Rebuilds the subtree `r` (a child of `parent`, or the root) with median splits.
    fn rebuild(&mut self, parent: Option<u32>, r: u32) {
        let mut entries = Vec::with_capacity(self.count(r) as usize);
        self.dismantle(r, &mut entries);
        let (new, bbox) = self.build(&mut entries);
        self.relink(parent, r, new, bbox);
    }

    /// Moves every entry under `r` into `out` and frees its nodes.
    fn dismantle(&mut self, r: u32, out: &mut Vec<Entry>) {
        if r & LEAF != 0 {
            self.leaves[(r & !LEAF) as usize].drain_into(out);
            self.free_leaves.push(r & !LEAF);
        } else {
            let s = self.splits[r as usize];
            self.dismantle(s.child[0], out);
            self.dismantle(s.child[1], out);
            self.free_splits.push(r);
        }
    }

    fn new_leaf(&mut self, entries: &[Entry]) -> u32 {
        let li = match self.free_leaves.pop() {
            Some(li) => li,
            None => {
                self.leaves.push(Leaf::EMPTY);
                (self.leaves.len() - 1) as u32
            }
        };
        let l = &mut self.leaves[li as usize];
        for e in entries {
            l.push(*e);
        }
        li | LEAF
    }

    /// A balanced subtree over `entries`: leaves of at most `BUCKET` points, except for
    /// groups of identical points, which stay in one leaf.
    fn build(&mut self, entries: &mut [Entry]) -> (u32, Aabb) {
        let bbox = Aabb::of(entries);
        if entries.len() < BUCKET {
            return (self.new_leaf(entries), bbox);
        }
        let spread = |d: usize| bbox.hi[d] - bbox.lo[d];
        let dim = (0..3).fold(0, |best, d| if spread(d) > spread(best) { d } else { best });
        if spread(dim) <= 0.0 {
            return (self.new_leaf(entries), bbox);
        }
        let mid = entries.len() / 2;
        entries.select_nth_unstable_by(mid, |a, b| a.p[dim].total_cmp(&b.p[dim]));
        let mut at = entries[mid].p[dim];
        let mut left = partition(entries, dim, at);
        if left == 0 {
            // The median is the minimum: split just above it instead.
            at = entries.iter().map(|e| e.p[dim]).filter(|&v| v > at).fold(f32::INFINITY, f32::min);
            left = partition(entries, dim, at);
        }
        let count = entries.len() as u32;
        let (l, r) = entries.split_at_mut(left);
        let ((l, lb), (r, rb)) = (self.build(l), self.build(r));
        let split = Split { at, meta: ((dim as u32) << 30) | count, child: [l, r], bbox: [lb, rb] };
        let node = match self.free_splits.pop() {
            Some(i) => {
                self.splits[i as usize] = split;
                i
            }
            None => {
                self.splits.push(split);
                (self.splits.len() - 1) as u32
            }
        };
        (node, bbox)
    }
}

/// Accepts finite coordinates of magnitude at most [`MAX_COORD`].
fn check_point(p: &[f32; 3]) -> Result<(), Error> {
    for &c in p {
        if !c.is_finite() {
            return Err(Error::NonFinitePoint);
        }
        if c.abs() > MAX_COORD {
            return Err(Error::PointOutOfRange { coordinate: c, max: MAX_COORD });
        }
    }
    Ok(())
}

/// Moves entries with `p[dim] < at` to the front; returns how many.
fn partition(entries: &mut [Entry], dim: usize, at: f32) -> usize {
    let mut i = 0;
    for j in 0..entries.len() {
        if entries[j].p[dim] < at {
            entries.swap(i, j);
            i += 1;
        }
    }
    i
}

/// The `n` best so far: appended unordered until `n` are held, then a max-heap on the
/// distance whose root (the current `n`-th distance) is the pruning bound.
struct Knn<'a> {
    n: usize,
    heap: &'a mut Vec<(f32, u32)>,
    worst: f32,
}

impl Knn<'_> {
    /// Adds a candidate closer than `worst`.
    #[inline]
    fn push(&mut self, d: f32, item: u32) {
        let h = &mut *self.heap;
        if h.len() < self.n {
            h.push((d, item));
            if h.len() < self.n {
                return;
            }
            for i in (0..self.n / 2).rev() {
                sift_down(h, i);
            }
        } else {
            h[0] = (d, item);
            sift_down(h, 0);
        }
        self.worst = h[0].0;
    }
}

#[inline]
fn sift_down(h: &mut [(f32, u32)], mut i: usize) {
    let x = h[i];
    loop {
        let l = 2 * i + 1;
        let Some(&left) = h.get(l) else { break };
        let (c, child) = match h.get(l + 1) {
            Some(&right) if right.0 > left.0 => (l + 1, right),
            _ => (l, left),
        };
        if child.0 <= x.0 {
            break;
        }
        h[i] = child;
        i = c;
    }
    h[i] = x;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GeoPoint;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    fn brute(points: &[(Entry, bool)], q: &[f32; 3], n: usize) -> Vec<f32> {
        let mut d: Vec<f32> = points.iter().filter(|x| x.1).map(|(e, _)| chord2(&e.p, q)).collect();
        d.sort_by(f32::total_cmp);
        d.truncate(n);
        d
    }

    fn check(ix: &SphereIndex, points: &[(Entry, bool)], rng: &mut ChaCha8Rng) {
        let mut out = Vec::new();
        for _ in 0..20 {
            let q = GeoPoint::new(rng.random_range(-90.0..90.0), rng.random_range(-180.0..180.0))
                .unwrap()
                .to_unit();
            let n = rng.random_range(1..50);
            ix.nearest_into(&q, n, &mut out).unwrap();
            assert_eq!(out.iter().map(|x| x.0).collect::<Vec<_>>(), brute(points, &q, n));
        }
        assert_eq!(ix.len(), points.iter().filter(|x| x.1).count());
    }

    #[test]
    fn churn_with_duplicates_and_sorted_inserts_matches_brute_force() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let mut ix = SphereIndex::new();
        let mut points: Vec<(Entry, bool)> = Vec::new();
        // Sorted by longitude along one parallel (shared z), plus 500 copies of one point.
        for i in 0..3000u32 {
            let p = GeoPoint::new(45.0, -180.0 + f64::from(i) * 0.1).unwrap().to_unit();
            points.push((Entry { p, item: i }, true));
        }
        let city = GeoPoint::new(10.0, 10.0).unwrap().to_unit();
        for i in 3000..3500u32 {
            points.push((Entry { p: city, item: i }, true));
        }
        for (e, _) in &points {
            ix.insert(e.p, e.item).unwrap();
        }
        assert!(ix.depth() <= 2 * 8 + 8, "depth {}", ix.depth());
        check(&ix, &points, &mut rng);
        // Random churn: remove two thirds, add random points, re-check.
        for (e, live) in &mut points {
            if rng.random_range(0..3) != 0 {
                assert!(ix.remove(e.p, e.item));
                *live = false;
            }
        }
        assert!(!ix.remove(points[0].0.p, u32::MAX));
        check(&ix, &points, &mut rng);
        for i in 0..2000u32 {
            let p = GeoPoint::new(rng.random_range(-90.0..90.0), rng.random_range(-180.0..180.0))
                .unwrap()
                .to_unit();
            ix.insert(p, 10_000 + i).unwrap();
            points.push((Entry { p, item: 10_000 + i }, true));
        }
        check(&ix, &points, &mut rng);
        for (e, live) in &mut points {
            if *live {
                assert!(ix.remove(e.p, e.item));
                *live = false;
            }
        }
        assert!(ix.is_empty());
        check(&ix, &points, &mut rng);
        assert_eq!(ix.insert([f32::NAN, 0.0, 0.0], 1), Err(Error::NonFinitePoint));
        assert!(ix.memory_bytes() > 0);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

        /// Any sequence of insertions and removals over a coarse grid (many identical
        /// points, shared axis values): the index answers exactly as a brute-force scan,
        /// and its point counts stay consistent.
        #[test]
        fn any_churn_equals_brute_force(
            ops in proptest::collection::vec((0u8..4, 0i32..7, 0i32..13, 0u32..400), 1..1500),
            q in (0i32..13, 0i32..25),
            n in 1usize..100,
        ) {
            let mut ix = SphereIndex::new();
            let mut live: Vec<(Entry, bool)> = Vec::new();
            for (kind, lat, lon, item) in ops {
                let p = GeoPoint::new(f64::from(lat) * 15.0 - 45.0, f64::from(lon) * 30.0 - 180.0)
                    .unwrap()
                    .to_unit();
                if kind == 0 {
                    // Remove the oldest live entry with this item, if any.
                    if let Some(x) = live.iter_mut().find(|x| x.1 && x.0.item == item) {
                        proptest::prop_assert!(ix.remove(x.0.p, x.0.item));
                        x.1 = false;
                    } else {
                        proptest::prop_assert!(!ix.remove(p, item));
                    }
                } else {
                    ix.insert(p, item).unwrap();
                    live.push((Entry { p, item }, true));
                }
            }
            let q = GeoPoint::new(f64::from(q.0) * 7.5 - 90.0, f64::from(q.1) * 15.0 - 180.0).unwrap().to_unit();
            let mut out = Vec::new();
            ix.nearest_into(&q, n, &mut out).unwrap();
            proptest::prop_assert_eq!(out.iter().map(|x| x.0).collect::<Vec<_>>(), brute(&live, &q, n));
            proptest::prop_assert_eq!(ix.len(), live.iter().filter(|x| x.1).count());
            proptest::prop_assert_eq!(ix.count(ix.root) as usize, ix.len());
        }
    }
}
