//! Aligned tables for humans: columns padded to their widest cell, two
//! spaces apart, numbers right-aligned, no borders and no trailing blanks.
//! comfy-table does the layout (display widths included); this wrapper
//! fixes the one style every listing uses and escapes what agents send.

use std::io::{self, Write};

use comfy_table::{CellAlignment, ContentArrangement, TableComponent};

use crate::output::escape::safe;

/// How a column's cells line up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Align {
    /// Text.
    Left,
    /// Numbers and sizes.
    Right,
}

/// Rows of text cells under a header.
#[derive(Debug)]
pub(crate) struct Table {
    inner: comfy_table::Table,
    columns: usize,
}

impl Table {
    /// A table with these columns.
    pub(crate) fn new(columns: &[(&str, Align)]) -> Table {
        let mut inner = comfy_table::Table::new();
        // No borders, no header rule: only the blank between columns.
        inner.load_preset(comfy_table::presets::NOTHING);
        for component in TableComponent::iter() {
            inner.remove_style(component);
        }
        inner.set_style(TableComponent::VerticalLines, ' ');
        inner.set_content_arrangement(ContentArrangement::Disabled);
        inner.set_header(columns.iter().map(|(header, _)| *header));
        for (column, (_, align)) in inner.column_iter_mut().zip(columns) {
            column.set_padding((0, 1));
            column.set_cell_alignment(match align {
                Align::Left => CellAlignment::Left,
                Align::Right => CellAlignment::Right,
            });
        }
        Table {
            inner,
            columns: columns.len(),
        }
    }

    /// Adds a row; missing cells are blank, extra ones are dropped; control
    /// characters are escaped, since cells hold text from agents.
    pub(crate) fn row(&mut self, cells: Vec<String>) {
        let mut cells: Vec<String> = cells
            .iter()
            .take(self.columns)
            .map(|c| safe(c).into_owned())
            .collect();
        cells.resize(self.columns, String::new());
        self.inner.add_row(cells);
    }

    /// Writes the header and the rows.
    ///
    /// # Errors
    /// The writer's.
    pub(crate) fn write(&self, out: &mut dyn Write) -> io::Result<()> {
        for line in self.inner.lines() {
            writeln!(out, "{}", line.trim_end())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aligns_columns() {
        let mut table = Table::new(&[
            ("ID", Align::Left),
            ("BYTES", Align::Right),
            ("NOTE", Align::Left),
        ]);
        table.row(vec!["p1".into(), "12.3 KiB".into(), "é".into()]);
        table.row(vec!["proxy-22".into(), "0 B".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "ID           BYTES  NOTE\n\
             p1        12.3 KiB  é\n\
             proxy-22       0 B\n"
        );
    }

    #[test]
    fn cells_from_agents_are_escaped() {
        let mut table = Table::new(&[("NAME", Align::Left), ("N", Align::Right)]);
        table.row(vec!["a\x1b[2J\rb".into(), "1".into()]);
        let mut out = Vec::new();
        table.write(&mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "NAME           N\n\
             a\\u{1b}[2J\\rb  1\n"
        );
    }
}
