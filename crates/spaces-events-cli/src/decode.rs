//! `spaces-events decode`: JSON lines in, lossless compact JSON lines out, one error per bad line.

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, Write};
use std::process::ExitCode;

/// Exit code when a line was invalid.
const INVALID: u8 = 1;
/// Exit code when the input cannot be read.
const UNREADABLE: u8 = 2;

pub(crate) fn run(file: &str) -> ExitCode {
    let input: Box<dyn BufRead> = if file == "-" {
        Box::new(io::stdin().lock())
    } else {
        match File::open(file) {
            Ok(f) => Box::new(BufReader::new(f)),
            Err(e) => {
                eprintln!("error: {file}: {e}");
                return ExitCode::from(UNREADABLE);
            }
        }
    };
    let mut out = BufWriter::new(io::stdout().lock());
    match decode_lines(input, &mut out, &mut io::stderr().lock())
        .and_then(|ok| out.flush().map(|()| ok))
    {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(INVALID),
        // A closed stdout (`| head`) ends the work; nothing to report.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {file}: {e}");
            ExitCode::from(UNREADABLE)
        }
    }
}

/// A line of a `record` file: the payload with its arrival time.
#[derive(serde::Deserialize)]
struct Recorded<'a> {
    #[serde(rename = "at_ms")]
    _at_ms: u64,
    #[serde(borrow)]
    payload: &'a serde_json::value::RawValue,
}

/// Decodes one line: a payload, or a `record` line `{"at_ms": …, "payload": {…}}`.
fn decode_line(
    text: &[u8],
) -> Result<spaces_events::MediaSessionEvent, spaces_events::DecodeError> {
    spaces_events::decode(text).or_else(|error| {
        match serde_json::from_slice::<Recorded<'_>>(text) {
            Ok(recorded) => spaces_events::decode(recorded.payload.get()),
            Err(_) => Err(error),
        }
    })
}

/// Decodes every line of `input`; returns whether all were valid. Blank lines are skipped.
fn decode_lines(
    mut input: impl BufRead,
    out: &mut impl Write,
    err: &mut impl Write,
) -> io::Result<bool> {
    let mut line = Vec::new();
    let mut all_valid = true;
    for number in 1.. {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if text.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        match decode_line(text) {
            Ok(event) => {
                serde_json::to_writer(&mut *out, &event)?;
                out.write_all(b"\n")?;
            }
            Err(e) => {
                all_valid = false;
                writeln!(err, "line {number}: {} (column {})", e.what(), e.column())?;
            }
        }
    }
    Ok(all_valid)
}

#[cfg(test)]
mod tests {
    use super::decode_lines;

    #[test]
    fn reports_each_bad_line_and_goes_on() {
        let input = "{\"category\":\"video.end\"}\r\n\n[1]\n{\"category\" : \"x\", \"n\":1.0}\n{\"category\":\n\
                     {\"at_ms\":5,\"payload\":{\"category\":\"tracksstatus\"}}\n";
        let (mut out, mut err) = (Vec::new(), Vec::new());
        assert!(!decode_lines(input.as_bytes(), &mut out, &mut err).unwrap());
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"category\":\"video.end\"}\n{\"category\":\"x\",\"n\":1.0}\n{\"category\":\"tracksstatus\"}\n"
        );
        assert_eq!(
            String::from_utf8(err).unwrap(),
            "line 3: the payload must be an object, got an array (column 1)\n\
             line 5: category: EOF while parsing a value (column 12)\n"
        );
    }
}
