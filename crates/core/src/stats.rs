//! Order statistics shared by the features and the estimators: exact on integers, so the same on
//! every platform.

/// The nearest-rank quantile `num/den` of sorted values; exact on integers, so the same on every
/// platform.
pub fn quantile<T: Copy>(sorted: &[T], num: usize, den: usize) -> Option<T> {
    if sorted.is_empty() || den == 0 {
        return None;
    }
    let rank = (sorted.len() * num).div_ceil(den).max(1);
    sorted.get(rank - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    #[test]
    fn quantiles_are_nearest_rank() {
        let sorted = [10, 20, 30, 40];
        assert_eq!(quantile(&sorted, 1, 2), Some(20));
        assert_eq!(quantile(&sorted, 3, 4), Some(30));
        assert_eq!(quantile(&sorted, 1, 1), Some(40));
        assert_eq!(quantile(&sorted, 0, 4), Some(10));
        assert_eq!(quantile::<i64>(&[], 1, 2), None);
        assert_eq!(quantile(&sorted, 1, 0), None);
    }
}
