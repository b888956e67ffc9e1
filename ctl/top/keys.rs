//! Terminal key events as the dashboard's keys. While the filter is typed,
//! letters are text; otherwise q, j, k, s, r and / are commands.

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// A key the model understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Key {
    /// Ctrl-C: quit from anywhere (raw mode turns it into a key).
    Interrupt,
    /// q: quit (or close a pane).
    Quit,
    Up,
    Down,
    /// s: the next sort column.
    Sort,
    /// /: type a filter.
    Filter,
    /// r: start or stop a recording on the selected proxy.
    Record,
    Enter,
    Esc,
    Backspace,
    /// Any other character (text, or y/n).
    Char(char),
}

/// The key `event` stands for; `None` for releases and keys without a use.
pub(crate) fn map(event: KeyEvent, typing: bool) -> Option<Key> {
    if event.kind == KeyEventKind::Release {
        return None;
    }
    if event.modifiers.contains(KeyModifiers::CONTROL) {
        return matches!(event.code, KeyCode::Char('c' | 'C')).then_some(Key::Interrupt);
    }
    let key = match event.code {
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::Enter => Key::Enter,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Char(c) if typing => Key::Char(c),
        KeyCode::Char('q') => Key::Quit,
        KeyCode::Char('k') => Key::Up,
        KeyCode::Char('j') => Key::Down,
        KeyCode::Char('s') => Key::Sort,
        KeyCode::Char('/') => Key::Filter,
        KeyCode::Char('r') => Key::Record,
        KeyCode::Char(c) => Key::Char(c),
        _ => return None,
    };
    Some(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn press(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn letters_are_commands_unless_typing() {
        let cases = [
            (KeyCode::Char('q'), false, Some(Key::Quit)),
            (KeyCode::Char('q'), true, Some(Key::Char('q'))),
            (KeyCode::Char('j'), false, Some(Key::Down)),
            (KeyCode::Char('k'), false, Some(Key::Up)),
            (KeyCode::Char('s'), false, Some(Key::Sort)),
            (KeyCode::Char('/'), false, Some(Key::Filter)),
            (KeyCode::Char('r'), false, Some(Key::Record)),
            (KeyCode::Char('y'), false, Some(Key::Char('y'))),
            (KeyCode::Up, true, Some(Key::Up)),
            (KeyCode::Esc, true, Some(Key::Esc)),
            (KeyCode::F(1), false, None),
        ];
        for (code, typing, expected) in cases {
            assert_eq!(
                map(press(code), typing),
                expected,
                "{code:?} typing={typing}"
            );
        }
    }

    #[test]
    fn ctrl_c_interrupts_even_while_typing() {
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(map(ctrl_c, true), Some(Key::Interrupt));
        let mut release = press(KeyCode::Char('q'));
        release.kind = KeyEventKind::Release;
        assert_eq!(map(release, false), None);
    }
}
