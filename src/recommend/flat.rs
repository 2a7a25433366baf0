//! Many short lists in one allocation: customers' products and order baskets.

/// Lists one after another: list `i` is `items[offsets[i]..offsets[i + 1]]`. Held as
/// `Vec<Vec<_>>`, millions of short lists cost an allocation each (a 24-byte header and the
/// allocator's rounding): at 24 M baskets of four products, more than the products in them.
#[derive(Debug, Clone, PartialEq)]
pub struct Flat<T> {
    offsets: Vec<usize>,
    items: Vec<T>,
}

impl<T> Default for Flat<T> {
    fn default() -> Self {
        Flat {
            offsets: vec![0],
            items: Vec::new(),
        }
    }
}

impl<T> Flat<T> {
    /// No lists yet, room for `items` items.
    pub fn with_capacity(items: usize) -> Flat<T> {
        Flat {
            offsets: vec![0],
            items: Vec::with_capacity(items),
        }
    }

    /// The lists `items[offsets[i]..offsets[i + 1]]`; `offsets` starts at 0, does not decrease
    /// and ends at `items.len()`.
    pub fn from_parts(offsets: Vec<usize>, items: Vec<T>) -> Flat<T> {
        assert!(
            offsets.first() == Some(&0)
                && offsets.last() == Some(&items.len())
                && offsets.is_sorted(),
            "offsets of a flat list"
        );
        Flat { offsets, items }
    }

    /// Number of lists.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Items in all lists.
    pub fn items(&self) -> usize {
        self.items.len()
    }

    /// Adds a list at the end.
    pub fn push(&mut self, list: impl IntoIterator<Item = T>) {
        self.items.extend(list);
        self.offsets.push(self.items.len());
    }

    /// Adds every list of `other` at the end.
    pub fn append(&mut self, other: Flat<T>) {
        let base = self.items.len();
        self.items.extend(other.items);
        self.offsets
            .extend(other.offsets[1..].iter().map(|&o| base + o));
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[T]> + '_ {
        self.offsets.windows(2).map(|w| &self.items[w[0]..w[1]])
    }
}

/// Lists made in parts (one per shard) and found by code, so that none is copied to put them in
/// code order: a code without a list has an empty one.
#[derive(Debug, Clone, PartialEq)]
pub struct ByCode<T> {
    parts: Vec<Flat<T>>,
    /// Per code: its part and its index there; [`NO_PART`] for none.
    slot: Vec<(u32, u32)>,
}

const NO_PART: u32 = u32::MAX;

impl<T> ByCode<T> {
    /// `codes` empty lists.
    pub fn new(codes: usize) -> ByCode<T> {
        ByCode {
            parts: Vec::new(),
            slot: vec![(NO_PART, 0); codes],
        }
    }

    /// Adds the lists of a part: `codes[i]`'s list is `lists[i]` (a code in one part only).
    pub fn add_part(&mut self, codes: &[u32], lists: Flat<T>) {
        assert_eq!(codes.len(), lists.len(), "one list per code");
        let part = self.parts.len() as u32;
        for (i, &code) in codes.iter().enumerate() {
            self.slot[code as usize] = (part, i as u32);
        }
        self.parts.push(lists);
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.slot.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    /// Every code's list, in code order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[T]> + '_ {
        (0..self.len()).map(|c| &self[c])
    }
}

impl<T> std::ops::Index<usize> for ByCode<T> {
    type Output = [T];

    fn index(&self, code: usize) -> &[T] {
        match self.slot[code] {
            (NO_PART, _) => &[],
            (part, i) => &self.parts[part as usize][i as usize],
        }
    }
}

impl<T> std::ops::Index<usize> for Flat<T> {
    type Output = [T];

    fn index(&self, i: usize) -> &[T] {
        &self.items[self.offsets[i]..self.offsets[i + 1]]
    }
}

impl<T, L: IntoIterator<Item = T>> FromIterator<L> for Flat<T> {
    fn from_iter<I: IntoIterator<Item = L>>(lists: I) -> Self {
        let mut flat = Flat::default();
        for list in lists {
            flat.push(list);
        }
        flat
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_come_back_as_they_went_in() {
        let lists = [vec![1, 2], vec![], vec![3]];
        let mut flat: Flat<u32> = lists.iter().cloned().collect();
        assert_eq!(flat.len(), 3);
        assert_eq!(flat.items(), 3);
        assert_eq!(&flat[0], &[1, 2]);
        assert!(flat[1].is_empty());
        flat.append([vec![4, 5]].into_iter().collect());
        let back: Vec<Vec<u32>> = flat.iter().map(<[u32]>::to_vec).collect();
        assert_eq!(back, [vec![1, 2], vec![], vec![3], vec![4, 5]]);
        assert!(Flat::<u32>::default().is_empty());
    }

    #[test]
    fn lists_made_in_parts_are_found_by_code() {
        let mut by_code: ByCode<u32> = ByCode::new(5);
        by_code.add_part(&[3, 0], [vec![30, 31], vec![0]].into_iter().collect());
        by_code.add_part(&[4], [vec![40]].into_iter().collect());
        let all: Vec<Vec<u32>> = by_code.iter().map(<[u32]>::to_vec).collect();
        assert_eq!(all, [vec![0], vec![], vec![], vec![30, 31], vec![40]]);
        assert_eq!(by_code.len(), 5);
    }
}
