// libFuzzer entry point over the text that tracefs hands us: tracepoint `format` files
// (events/<category>/<name>/format) and trace_pipe lines. Run with `Fuzz/run.sh tracefs [runs]`.
// The first byte chooses: even → a format file, odd → trace_pipe text (split into lines,
// as the reader does). A trap, an ASan report or a hang is a bug.

func fuzzTracefs(_ data: UnsafeBufferPointer<UInt8>) {
    guard let selector = data.first else { return }
    let text = String(decoding: data.dropFirst(), as: UTF8.self)
    if selector % 2 == 0 {
        guard let format = try? TracepointFormat(parsing: text) else { return }
        _ = format.recordSize
        for field in format.commonFields + format.fields {
            _ = (field.isPointer, format.field(named: field.name))
        }
    } else {
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            _ = TracePipeLine(parsing: line)
        }
    }
}
