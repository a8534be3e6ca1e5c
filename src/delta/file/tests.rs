//! The deltas file's round trips, determinism, and refusal of every corruption tried.

use super::*;
use proptest::prelude::*;

fn header() -> FileHeader {
    FileHeader {
        alphabet: Alphabet::Protein,
        threshold: 0.9,
        coverage: 0.8,
    }
}

/// A deterministic mix of entries; members carry varied, partly random bytes.
fn sample_entries(n: usize) -> Vec<Entry> {
    let mut state = 0x1234_5678_9abc_def0u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut entries = vec![Entry::Preamble(b"\n\n".to_vec())];
    let mut reps = 0u64;
    for i in 0..n {
        if i % 5 == 0 {
            entries.push(Entry::Representative { crc: next() as u32 });
            reps += 1;
        } else {
            let r = next();
            let delta: Vec<u8> = (0..(r % 40) as usize).map(|_| next() as u8).collect();
            entries.push(Entry::Member {
                rep: r % reps,
                header: format!("sp|P{i:06}|PROT_{i} some protein OS=Homo sapiens").into_bytes(),
                layout: vec![60],
                delta,
                seq_len: 100 + r % 900,
            });
        }
    }
    entries
}

fn trailer_for(entries: &[Entry]) -> Trailer {
    let reps = entries
        .iter()
        .filter(|e| matches!(e, Entry::Representative { .. }))
        .count() as u64;
    let members = entries
        .iter()
        .filter(|e| matches!(e, Entry::Member { .. }))
        .count() as u64;
    Trailer {
        records: reps + members,
        representatives: reps,
        members,
        input_bytes: 123_456_789,
        input_xxh3: 0xdead_beef_cafe_f00d,
        reduced_bytes: 42,
        reduced_xxh3: u64::MAX,
    }
}

fn write_all(entries: &[Entry]) -> Vec<u8> {
    let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
    for e in entries {
        w.write_entry(e).unwrap();
    }
    w.finish(&trailer_for(entries)).unwrap()
}

fn read_all(bytes: &[u8]) -> Result<(FileHeader, Vec<Entry>, Trailer), DeltaFileError> {
    let (mut r, h) = DeltaReader::new(bytes)?;
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        out.push(e);
    }
    let t = r.trailer().cloned().expect("trailer after None");
    Ok((h, out, t))
}

/// Counts frames by walking the frame headers (test-only view of the layout).
fn frame_kinds(bytes: &[u8]) -> Vec<u8> {
    let mut c = Cursor::new(&bytes[header_len(bytes)..]);
    let mut kinds = Vec::new();
    while !c.is_empty() {
        kinds.push(c.byte().unwrap());
        c.varint().unwrap();
        let clen = c.varint().unwrap() as usize;
        c.take(4 + clen).unwrap();
    }
    kinds
}

#[test]
fn round_trip_across_many_frames() {
    let entries = sample_entries(3 * FRAME_MAX_ENTRIES + 17);
    let bytes = write_all(&entries);
    assert_eq!(
        frame_kinds(&bytes),
        vec![
            KIND_ENTRIES,
            KIND_ENTRIES,
            KIND_ENTRIES,
            KIND_ENTRIES,
            KIND_TRAILER
        ]
    );
    let (h, got, t) = read_all(&bytes).unwrap();
    assert_eq!(h, header());
    assert_eq!(got, entries);
    assert_eq!(t, trailer_for(&entries));
}

#[test]
fn empty_file_round_trips() {
    let bytes = write_all(&[]);
    assert_eq!(frame_kinds(&bytes), vec![KIND_TRAILER]);
    let (_, got, t) = read_all(&bytes).unwrap();
    assert!(got.is_empty());
    assert_eq!(t.records, 0);
}

#[test]
fn header_fields_round_trip() {
    let h = FileHeader {
        alphabet: Alphabet::Nucleotide,
        threshold: 1.0,
        coverage: 0.0,
    };
    let w = DeltaWriter::new(Vec::new(), &h).unwrap();
    let bytes = w.finish(&Trailer::default()).unwrap();
    let (_, got) = DeltaReader::new(&bytes[..]).unwrap();
    assert_eq!(got, h);
}

#[test]
fn output_does_not_depend_on_call_pattern() {
    let entries = sample_entries(FRAME_MAX_ENTRIES + 300);
    let reference = write_all(&entries);
    // Interleave writes with reads of unrelated state and write through a chunky sink:
    // the bytes must not change.
    struct Dribble(Vec<u8>);
    impl Write for Dribble {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let n = buf.len().min(7);
            self.0.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }
    for batch in [1usize, 3, 1000, 8191, 8193] {
        let mut w = DeltaWriter::new(Dribble(Vec::new()), &header()).unwrap();
        for chunk in entries.chunks(batch) {
            for e in chunk {
                w.write_entry(e).unwrap();
            }
        }
        let got = w.finish(&trailer_for(&entries)).unwrap().0;
        assert!(got == reference, "batch {batch} changed the bytes");
    }
}

#[test]
fn large_entries_split_frames_by_size() {
    // 600 KiB headers: 6 fit under 4 MiB, so frames hold 6 entries each.
    let mut entries = vec![Entry::Representative { crc: 1 }];
    for i in 0..20u8 {
        entries.push(Entry::Member {
            rep: 0,
            header: vec![b'A' + i; 600 << 10],
            layout: vec![],
            delta: vec![],
            seq_len: 0,
        });
    }
    let bytes = write_all(&entries);
    assert_eq!(frame_kinds(&bytes).len(), 4 + 1);
    assert_eq!(read_all(&bytes).unwrap().1, entries);
}

#[test]
fn oversized_entry_gets_its_own_frame() {
    let big = Entry::Member {
        rep: 0,
        header: b"big".to_vec(),
        layout: vec![60],
        delta: (0..(FRAME_TARGET_BYTES + 1000))
            .map(|i| (i * 7 % 251) as u8)
            .collect(),
        seq_len: 10_000_000,
    };
    let entries = vec![
        Entry::Representative { crc: 7 },
        big.clone(),
        Entry::Representative { crc: 8 },
    ];
    let bytes = write_all(&entries);
    assert_eq!(frame_kinds(&bytes).len(), 3 + 1);
    assert_eq!(read_all(&bytes).unwrap().1, entries);
}

#[test]
fn writer_refuses_inconsistent_input() {
    let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
    w.write_entry(&Entry::Representative { crc: 0 }).unwrap();
    assert!(w.write_entry(&Entry::Preamble(vec![b'\n'])).is_err());

    let w = DeltaWriter::new(Vec::new(), &header()).unwrap();
    let wrong = Trailer {
        records: 1,
        ..Trailer::default()
    };
    assert!(w.finish(&wrong).is_err());

    let bad = FileHeader {
        threshold: 0.0,
        ..header()
    };
    assert!(DeltaWriter::new(Vec::new(), &bad).is_err());
}

fn small_file() -> Vec<u8> {
    write_all(&[
        Entry::Preamble(b"\n".to_vec()),
        Entry::Representative { crc: 0xabcd },
        Entry::Member {
            rep: 0,
            header: b"seq2 desc".to_vec(),
            layout: vec![60, 1],
            delta: vec![1, 2, 3],
            seq_len: 77,
        },
        Entry::Representative { crc: 5 },
    ])
}

#[test]
fn every_flipped_byte_is_an_error() {
    let good = small_file();
    assert!(read_all(&good).is_ok());
    for i in 0..good.len() {
        for mask in [0x01u8, 0x80, 0xff] {
            let mut bad = good.clone();
            bad[i] ^= mask;
            assert!(
                read_all(&bad).is_err(),
                "flip {mask:#x} at byte {i} went unnoticed"
            );
        }
    }
}

#[test]
fn every_truncation_is_an_error() {
    let good = small_file();
    for len in 0..good.len() {
        match read_all(&good[..len]) {
            Err(DeltaFileError::Truncated) => {}
            other => panic!("truncated at {len}: {other:?}"),
        }
    }
}

#[test]
fn data_after_the_trailer_is_corrupt() {
    let mut bytes = small_file();
    bytes.push(0);
    assert!(matches!(
        read_all(&bytes),
        Err(DeltaFileError::Corrupt { .. })
    ));
}

#[test]
fn bad_magic_and_version_are_named() {
    let mut bytes = small_file();
    bytes[0] = b'X';
    assert!(matches!(read_all(&bytes), Err(DeltaFileError::BadMagic)));
    assert!(matches!(
        read_all(b">seq1\nACGT\n"),
        Err(DeltaFileError::BadMagic)
    ));
    let mut bytes = small_file();
    bytes[8..10].copy_from_slice(&2u16.to_le_bytes());
    assert!(matches!(read_all(&bytes), Err(DeltaFileError::Version(2))));
}

#[test]
fn hostile_lengths_do_not_allocate() {
    // A frame claiming the maximum sizes but holding a few bytes: the reader must fail after
    // reading what is there, without reserving a gigabyte first.
    let mut bytes = write_all(&[]);
    let trailer_at = header_len(&bytes);
    bytes.truncate(trailer_at);
    bytes.push(KIND_ENTRIES);
    put_varint(&mut bytes, MAX_FRAME_PAYLOAD as u64);
    put_varint(&mut bytes, MAX_FRAME_COMPRESSED);
    bytes.extend_from_slice(&[0; 4]);
    bytes.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0]);
    let (mut r, _) = DeltaReader::new(&bytes[..]).unwrap();
    assert!(matches!(r.next_entry(), Err(DeltaFileError::Truncated)));
    assert!(r.compressed.capacity() <= FRAME_TARGET_BYTES);
    assert!(r.payload.capacity() <= FRAME_TARGET_BYTES);

    // Claimed length beyond the cap.
    bytes.truncate(trailer_at);
    bytes.push(KIND_ENTRIES);
    put_varint(&mut bytes, MAX_FRAME_PAYLOAD as u64 + 1);
    assert!(matches!(
        read_all(&bytes),
        Err(DeltaFileError::Corrupt { .. })
    ));

    // A valid zstd frame that decompresses to more than declared.
    bytes.truncate(trailer_at);
    let payload = [TAG_REPRESENTATIVE, 0, 0, 0, 0].repeat(1000);
    let z = zstd::bulk::compress(&payload, 3).unwrap();
    bytes.push(KIND_ENTRIES);
    put_varint(&mut bytes, 5);
    put_varint(&mut bytes, z.len() as u64);
    bytes.extend_from_slice(&crc32fast::hash(&payload[..5]).to_le_bytes());
    bytes.extend_from_slice(&z);
    assert!(matches!(
        read_all(&bytes),
        Err(DeltaFileError::Corrupt { .. })
    ));
}

#[test]
fn writer_refuses_a_member_past_the_representatives() {
    let entries = [
        Entry::Representative { crc: 0 },
        Entry::Member {
            rep: 1,
            header: vec![],
            layout: vec![],
            delta: vec![],
            seq_len: 0,
        },
    ];
    let mut w = DeltaWriter::new(Vec::new(), &header()).unwrap();
    for e in &entries {
        w.write_entry(e).unwrap();
    }
    // The writer refuses the trailer, so such a file can only come from corruption.
    assert!(w.finish(&trailer_for(&entries)).is_err());
}

/// A file whose single entries frame holds `payload` verbatim (valid crcs and lengths), so the
/// reader's checks on the entries themselves can be exercised.
fn raw_file(payload: &[u8], trailer: &Trailer) -> Vec<u8> {
    let mut bytes = write_all(&[]);
    bytes.truncate(header_len(&bytes));
    for (kind, body) in [
        (KIND_ENTRIES, payload.to_vec()),
        (KIND_TRAILER, {
            let mut t = Vec::new();
            encode_trailer(&mut t, trailer);
            t
        }),
    ] {
        if body.is_empty() {
            continue;
        }
        let z = zstd::bulk::compress(&body, 3).unwrap();
        bytes.push(kind);
        put_varint(&mut bytes, body.len() as u64);
        put_varint(&mut bytes, z.len() as u64);
        bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
        bytes.extend_from_slice(&z);
    }
    bytes
}

fn header_len(bytes: &[u8]) -> usize {
    let mut c = Cursor::new(bytes);
    c.take(10).unwrap();
    let n = c.varint().unwrap() as usize;
    c.take(n + 4).unwrap();
    c.used()
}

fn corrupt_message(bytes: &[u8]) -> String {
    match read_all(bytes) {
        Err(DeltaFileError::Corrupt { message, .. }) => message,
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn reader_checks_entries_and_trailer() {
    let one_rep = Trailer {
        records: 1,
        representatives: 1,
        ..Trailer::default()
    };
    let mut rep = Vec::new();
    encode_entry(&mut rep, &Entry::Representative { crc: 3 });
    assert!(read_all(&raw_file(&rep, &one_rep)).is_ok());

    // A member referring to a representative that does not exist.
    let mut payload = rep.clone();
    encode_entry(
        &mut payload,
        &Entry::Member {
            rep: 1,
            header: vec![],
            layout: vec![],
            delta: vec![],
            seq_len: 0,
        },
    );
    let t = Trailer {
        records: 2,
        representatives: 1,
        members: 1,
        ..Trailer::default()
    };
    assert!(corrupt_message(&raw_file(&payload, &t)).contains("representative 1"));

    // A preamble after a record.
    let mut payload = rep.clone();
    encode_entry(&mut payload, &Entry::Preamble(vec![b'\n']));
    assert!(corrupt_message(&raw_file(&payload, &one_rep)).contains("preamble"));

    // Unknown tag; a length running past the frame.
    assert!(corrupt_message(&raw_file(&[9], &one_rep)).contains("tag"));
    assert!(corrupt_message(&raw_file(&[TAG_PREAMBLE, 5, b'x'], &one_rep)).contains("left"));

    // Trailer counts that disagree with the entries.
    let two = Trailer {
        records: 2,
        representatives: 2,
        ..Trailer::default()
    };
    assert!(corrupt_message(&raw_file(&rep, &two)).contains("representatives"));
}

#[test]
fn oversized_zstd_window_is_refused() {
    // 5 MiB compressed with a 128 MiB window: a conforming zstd frame that would make the
    // decoder reserve more than this format's writer ever needs.
    let body: Vec<u8> = [TAG_REPRESENTATIVE, 1, 2, 3, 4].repeat(1 << 20);
    let mut c = zstd::bulk::Compressor::new(3).unwrap();
    c.set_parameter(CParameter::WindowLog(27)).unwrap();
    let z = c.compress(&body).unwrap();
    let mut bytes = write_all(&[]);
    bytes.truncate(header_len(&bytes));
    bytes.push(KIND_ENTRIES);
    put_varint(&mut bytes, body.len() as u64);
    put_varint(&mut bytes, z.len() as u64);
    bytes.extend_from_slice(&crc32fast::hash(&body).to_le_bytes());
    bytes.extend_from_slice(&z);
    assert!(corrupt_message(&bytes).contains("zstd"));
}

#[test]
fn varints_round_trip_and_reject_overlong() {
    for v in [0, 1, 127, 128, 300, u32::MAX as u64, u64::MAX - 1, u64::MAX] {
        let mut buf = Vec::new();
        put_varint(&mut buf, v);
        assert_eq!(buf.len(), varint_len(v));
        assert_eq!(Cursor::new(&buf).varint().unwrap(), v);
    }
    assert!(Cursor::new(&[0x80, 0x00]).varint().is_err());
    assert!(Cursor::new(&[0xff; 10]).varint().is_err());
    assert!(Cursor::new(&[0x80]).varint().is_err());
}

fn arb_entry() -> impl Strategy<Value = Entry> {
    let bytes = || proptest::collection::vec(any::<u8>(), 0..64);
    prop_oneof![
        any::<u32>().prop_map(|crc| Entry::Representative { crc }),
        (0u64..4, bytes(), bytes(), bytes(), any::<u64>()).prop_map(
            |(rep, header, layout, delta, seq_len)| Entry::Member {
                rep,
                header,
                layout,
                delta,
                seq_len,
            }
        ),
    ]
}

proptest! {
    #[test]
    fn entries_round_trip(
        preamble in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..16)),
        body in proptest::collection::vec(arb_entry(), 0..200),
    ) {
        // Four representatives first so every member's `rep` (< 4) is valid.
        let mut entries: Vec<Entry> = preamble.into_iter().map(Entry::Preamble).collect();
        entries.extend((0..4).map(|crc| Entry::Representative { crc }));
        entries.extend(body);
        let bytes = write_all(&entries);
        let (_, got, t) = read_all(&bytes).unwrap();
        prop_assert_eq!(got, entries.clone());
        prop_assert_eq!(t, trailer_for(&entries));
    }

    #[test]
    fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut bytes = write_all(&[]);
        let keep = bytes.len() - tail.len().min(20);
        bytes.truncate(keep);
        bytes.extend_from_slice(&tail);
        let _ = read_all(&bytes);
    }
}
