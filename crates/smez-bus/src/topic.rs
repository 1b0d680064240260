//! AMQP topic matching: words are dot-separated; `*` matches exactly one word,
//! `#` matches zero or more.

pub fn matches(pattern: &str, key: &str) -> bool {
    let pattern: Vec<&str> = pattern.split('.').collect();
    let key: Vec<&str> = key.split('.').collect();
    match_words(&pattern, &key)
}

fn match_words(pattern: &[&str], key: &[&str]) -> bool {
    match pattern.split_first() {
        None => key.is_empty(),
        Some((&"#", rest)) => (0..=key.len()).any(|skip| match_words(rest, &key[skip..])),
        Some((word, rest)) => match key.split_first() {
            Some((first, key_rest)) => (*word == "*" || word == first) && match_words(rest, key_rest),
            None => false,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::matches;

    #[test]
    fn star_and_hash_follow_amqp_rules() {
        assert!(matches("render.*", "render.completed"));
        assert!(!matches("render.*", "render.progress.frame"));
        assert!(matches("render.#", "render.progress.frame"));
        assert!(matches("render.#", "render"));
        assert!(matches("#", "post.published"));
        assert!(matches("*.failed", "post.failed"));
        assert!(!matches("post.published", "post.failed"));
    }
}
