//! The one reader of daily-returns CSV files, shared by `ballast optimize`, `frontier` and
//! `backtest`: a header of names, then one row of simple daily returns per day.
//!
//! What it accepts: a UTF-8 byte-order mark (stripped), blank lines (skipped), names in
//! double quotes, and a first column of dates (headed `date`, `day`, `time`, `timestamp` or
//! `datetime` in any case, headed by nothing, or whose first value is not a number), which is
//! skipped. What it refuses, naming the row and column: ragged rows, values that are not
//! finite numbers, and returns of −100% or worse (a simple daily return cannot lose more than
//! everything, and at exactly −100% every later return of the asset is meaningless).
//!
//! Sizes are capped before anything grows with them: at most [`MAX_RETURN_COLUMNS`] assets
//! (the covariance is `n²` and the solvers `n³`) and [`MAX_RETURN_CELLS`] values, checked row
//! by row as the file is read, so a file past the cap is refused having allocated no more than
//! the cap. The caller reads the file; [`MAX_RETURN_FILE_BYTES`] is the size it should refuse
//! before reading.
//!
//! # Invariants
//! - A parsed file has at least one asset, at least one row, unique non-empty names, at most
//!   [`MAX_RETURN_COLUMNS`] assets and [`MAX_RETURN_CELLS`] values, each finite and above −1.
//! - Row numbers in errors are 1-based line numbers of the file (the header is line 1).

/// Most assets (columns of returns) a returns file may have.
pub const MAX_RETURN_COLUMNS: usize = 1_000;

/// Most values (rows × assets) a returns file may hold: about 4,500 years of six services,
/// 80 MB of `f64`.
pub const MAX_RETURN_CELLS: usize = 10_000_000;

/// Largest returns file worth reading, bytes: [`MAX_RETURN_CELLS`] values of up to 25
/// characters each, with room to spare.
pub const MAX_RETURN_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// Header names that mark a first column of dates rather than returns.
const DATE_HEADERS: [&str; 5] = ["date", "day", "time", "timestamp", "datetime"];

/// A parsed returns file.
#[derive(Debug, Clone, PartialEq)]
pub struct ReturnsCsv {
    /// Asset names, in column order (a date column left out).
    pub names: Vec<String>,
    /// Row-major `rows × names.len()` values.
    pub data: Vec<f64>,
    /// 1-based line number of each row, for messages about rows.
    pub lines: Vec<usize>,
}

impl ReturnsCsv {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.lines.len()
    }
}

/// What is wrong with a returns file; `Display` names the row and column.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CsvError {
    /// No header, or no rows.
    #[error("{0}")]
    Empty(&'static str),
    /// A header name that is empty or repeated.
    #[error("header column {column}: {problem}")]
    BadHeader {
        /// 1-based column.
        column: usize,
        /// What is wrong.
        problem: String,
    },
    /// More assets than [`MAX_RETURN_COLUMNS`].
    #[error("the header names {columns} assets, more than the {max} a returns file may have")]
    TooManyColumns {
        /// Assets named.
        columns: usize,
        /// The cap.
        max: usize,
    },
    /// More values than [`MAX_RETURN_CELLS`].
    #[error(
        "{rows} rows × {columns} columns is more than the {max} values a returns file may hold"
    )]
    TooLarge {
        /// Rows read so far, the refused one included.
        rows: usize,
        /// Assets.
        columns: usize,
        /// The cap.
        max: usize,
    },
    /// A row with the wrong number of fields.
    #[error("row {row}: {found} fields, the header has {expected}")]
    RaggedRow {
        /// 1-based line number.
        row: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields found.
        found: usize,
    },
    /// A value that is not a finite number, or a return of −100% or worse.
    #[error("row {row}, column {column}: {problem}")]
    BadValue {
        /// 1-based line number.
        row: usize,
        /// Column name.
        column: String,
        /// What is wrong.
        problem: String,
    },
}

/// Parses a returns CSV (see the module docs for what it accepts and refuses).
///
/// # Errors
/// A [`CsvError`] naming the row, column or cap at fault.
pub fn parse_returns_csv(text: &str) -> Result<ReturnsCsv, CsvError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.trim()))
        .filter(|(_, l)| !l.is_empty())
        .peekable();
    let (_, header) = lines
        .next()
        .ok_or(CsvError::Empty("the returns file is empty"))?;
    let header: Vec<&str> = header
        .split(',')
        .map(|h| h.trim().trim_matches('"').trim())
        .collect();
    let first_value_is_text = lines.peek().is_some_and(|(_, l)| {
        l.split(',')
            .next()
            .is_some_and(|f| f.trim().parse::<f64>().is_err())
    });
    let skip = usize::from(
        DATE_HEADERS.contains(&header[0].to_ascii_lowercase().as_str())
            || header[0].is_empty()
            || first_value_is_text,
    );
    let names = &header[skip..];
    if names.is_empty() {
        return Err(CsvError::Empty("the header names no assets"));
    }
    if names.len() > MAX_RETURN_COLUMNS {
        return Err(CsvError::TooManyColumns {
            columns: names.len(),
            max: MAX_RETURN_COLUMNS,
        });
    }
    for (k, name) in names.iter().enumerate() {
        let column = k + skip + 1;
        if name.is_empty() {
            return Err(CsvError::BadHeader {
                column,
                problem: "an empty name".to_owned(),
            });
        }
        if names[..k].contains(name) {
            return Err(CsvError::BadHeader {
                column,
                problem: format!("`{name}` is named twice"),
            });
        }
    }
    let columns = names.len();
    let mut data = Vec::new();
    let mut row_lines = Vec::new();
    for (line_no, line) in lines {
        let rows = row_lines.len() + 1;
        if rows.saturating_mul(columns) > MAX_RETURN_CELLS {
            return Err(CsvError::TooLarge {
                rows,
                columns,
                max: MAX_RETURN_CELLS,
            });
        }
        let found = line.split(',').count();
        if found != header.len() {
            return Err(CsvError::RaggedRow {
                row: line_no,
                expected: header.len(),
                found,
            });
        }
        for (field, name) in line.split(',').skip(skip).zip(names) {
            data.push(parse_return(field.trim(), line_no, name)?);
        }
        row_lines.push(line_no);
    }
    if row_lines.is_empty() {
        return Err(CsvError::Empty("the returns file has a header but no rows"));
    }
    Ok(ReturnsCsv {
        names: names.iter().map(|n| (*n).to_owned()).collect(),
        data,
        lines: row_lines,
    })
}

/// One value: a finite number above −1.
fn parse_return(field: &str, row: usize, column: &str) -> Result<f64, CsvError> {
    let bad = |problem: String| CsvError::BadValue {
        row,
        column: column.to_owned(),
        problem,
    };
    let value: f64 = field
        .parse()
        .map_err(|_| bad(format!("`{field}` is not a number")))?;
    if !value.is_finite() {
        return Err(bad(format!("`{field}` is not finite")));
    }
    if value <= -1.0 {
        return Err(bad(format!("a return of {value} is −100% or worse")));
    }
    Ok(value)
}

/// Texts the reader refuses, each with its whole message: the reader's test checks them,
/// and the parsers built on it check that each refusal reaches their caller unchanged.
#[cfg(test)]
pub(crate) const REFUSALS: [(&str, &str); 10] = [
    // R0: −100% is refused with row and column.
    (
        "casino,trading\n0,0\n0.1,-1\n",
        "row 3, column trading: a return of -1 is −100% or worse",
    ),
    // R1: −500% likewise.
    (
        "a\n-5\n",
        "row 2, column a: a return of -5 is −100% or worse",
    ),
    // R2: NaN.
    (
        "casino,trading\n0,NaN\n",
        "row 2, column trading: `NaN` is not finite",
    ),
    // R3: text.
    ("a,b\n0,abc\n", "row 2, column b: `abc` is not a number"),
    // R4: ragged.
    ("a,b\n0,0,0\n", "row 2: 3 fields, the header has 2"),
    // R5: a repeated name.
    ("a,a\n0,0\n", "header column 2: `a` is named twice"),
    // R6: an empty name past the first column.
    ("a,,b\n0,0,0\n", "header column 2: an empty name"),
    // R7: a header and no rows.
    ("casino\n", "the returns file has a header but no rows"),
    // R8: nothing at all.
    ("", "the returns file is empty"),
    // R9: only a date column.
    ("date\n2024-01-01\n", "the header names no assets"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn returns_files_are_read_or_refused_naming_the_cause() {
        struct TestCase {
            text: &'static str,
            expected: (&'static [&'static str], usize),
        }
        let cases = [
            // TC0: plain header and rows.
            TestCase {
                text: "a,b\n0.01,0.02\n-0.01,0.00\n",
                expected: (&["a", "b"], 2),
            },
            // TC1: a byte-order mark is not part of the first name.
            TestCase {
                text: "\u{feff}casino,trading\n0.1,0\n",
                expected: (&["casino", "trading"], 1),
            },
            // TC2: a date column (by name) is skipped, quotes and blank lines too.
            TestCase {
                text: "Date,\"a\",b\n\n2024-01-01,0.01,0.02\n2024-01-02,-0.01,0.00\n",
                expected: (&["a", "b"], 2),
            },
            // TC3: a date column under a BOM is still a date column.
            TestCase {
                text: "\u{feff}date,a\n2024-01-01,0.01\n",
                expected: (&["a"], 1),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            let csv = parse_returns_csv(case.text).unwrap_or_else(|e| panic!("TC{i}: {e}"));
            let (names, rows) = case.expected;
            assert_eq!(csv.names, names, "TC{i}");
            assert_eq!(csv.rows(), rows, "TC{i}");
            assert_eq!(csv.data.len(), rows * names.len(), "TC{i}");
        }
        for (i, (text, message)) in REFUSALS.iter().enumerate() {
            let error = parse_returns_csv(text).expect_err("refused");
            assert_eq!(&error.to_string(), message, "R{i}");
        }
    }

    #[test]
    fn caps_refuse_before_the_data_grows() {
        // 1,001 columns: refused from the header, before any row is read.
        let header: Vec<String> = (0..=MAX_RETURN_COLUMNS).map(|k| format!("a{k}")).collect();
        let text = format!("{}\n", header.join(","));
        assert_eq!(
            parse_returns_csv(&text),
            Err(CsvError::TooManyColumns {
                columns: MAX_RETURN_COLUMNS + 1,
                max: MAX_RETURN_COLUMNS
            })
        );
        // 1,000 columns × 10,001 rows: refused at the row past the cap.
        let header: Vec<String> = (0..MAX_RETURN_COLUMNS).map(|k| format!("a{k}")).collect();
        let row = vec!["0"; MAX_RETURN_COLUMNS].join(",");
        let rows = MAX_RETURN_CELLS / MAX_RETURN_COLUMNS + 1;
        let mut text = header.join(",");
        text.reserve(rows * (row.len() + 1));
        for _ in 0..rows {
            text.push('\n');
            text.push_str(&row);
        }
        assert_eq!(
            parse_returns_csv(&text),
            Err(CsvError::TooLarge {
                rows,
                columns: MAX_RETURN_COLUMNS,
                max: MAX_RETURN_CELLS
            })
        );
    }
}
