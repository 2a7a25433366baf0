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
}
