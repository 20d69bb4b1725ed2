using System.Buffers.Binary;

namespace ActorRelay.Quality;

/// <summary>
/// One report block of an RTCP SR or RR (RFC 3550 §6.4.1, §6.4.2): what <see cref="ReporterSsrc"/> says it
/// received from <see cref="SourceSsrc"/>.
/// </summary>
/// <param name="FractionLost">Fraction of packets lost since the previous report, in 1/256 units.</param>
/// <param name="CumulativeLost">Packets lost since the start of reception: a signed 24-bit number (negative when duplicates made up for losses).</param>
/// <param name="ExtendedHighestSequence">Cycles (high 16 bits) and highest sequence number received (low 16 bits).</param>
/// <param name="Jitter">Interarrival jitter in RTP timestamp units of the source's stream.</param>
/// <param name="LastSenderReport">LSR: the middle 32 bits of the NTP timestamp of the last SR received from the source, 0 if none.</param>
/// <param name="DelaySinceLastSenderReport">DLSR, in 1/65536 s.</param>
public readonly record struct RtcpReportBlock(
    uint ReporterSsrc,
    uint SourceSsrc,
    byte FractionLost,
    int CumulativeLost,
    uint ExtendedHighestSequence,
    uint Jitter,
    uint LastSenderReport,
    uint DelaySinceLastSenderReport)
{
    /// <summary>Size of a report block on the wire.</summary>
    public const int Size = 24;

    /// <summary><see cref="FractionLost"/> as a ratio 0..255/256.</summary>
    public double FractionLostRatio => FractionLost / 256.0;

    /// <summary>Reads a block at the start of <paramref name="block"/> (at least <see cref="Size"/> bytes).</summary>
    internal static RtcpReportBlock Read(uint reporter, ReadOnlySpan<byte> block)
    {
        var lost = (int)(BinaryPrimitives.ReadUInt32BigEndian(block.Slice(4, 4)) << 8) >> 8; // sign-extend 24 bits
        return new RtcpReportBlock(
            reporter,
            BinaryPrimitives.ReadUInt32BigEndian(block[..4]),
            block[4],
            lost,
            BinaryPrimitives.ReadUInt32BigEndian(block.Slice(8, 4)),
            BinaryPrimitives.ReadUInt32BigEndian(block.Slice(12, 4)),
            BinaryPrimitives.ReadUInt32BigEndian(block.Slice(16, 4)),
            BinaryPrimitives.ReadUInt32BigEndian(block.Slice(20, 4)));
    }
}

/// <summary>
/// Reads the report blocks of a compound RTCP datagram, allocation-free and bounded: nothing is read unless the
/// whole compound is valid (<see cref="IsValidCompound"/>), and every block read lies inside the packet that
/// announced it.
/// <code>
///   var reader = new RtcpReportReader(datagram);
///   while (reader.TryNext(out var block)) { ... }
/// </code>
/// </summary>
public ref struct RtcpReportReader
{
    public const byte SenderReport = 200;
    public const byte ReceiverReport = 201;

    private readonly ReadOnlySpan<byte> _compound;
    private int _packet;       // offset of the current packet
    private int _packetEnd;    // end of the current packet
    private int _block;        // offset of the next block in the current packet
    private int _blocksLeft;   // blocks still to read in the current packet
    private uint _reporter;

    public RtcpReportReader(ReadOnlySpan<byte> compound)
    {
        _compound = compound;
        IsValidCompound = IsValid(compound);
        _packet = IsValidCompound ? 0 : compound.Length;
        _packetEnd = _packet;
        _block = 0;
        _blocksLeft = 0;
        _reporter = 0;
    }

    /// <summary>Whether the datagram passed <see cref="IsValid"/>; an invalid one yields no blocks.</summary>
    public bool IsValidCompound { get; }

    /// <summary>The next report block of the next SR or RR in the compound; false when there are no more.</summary>
    public bool TryNext(out RtcpReportBlock block)
    {
        while (_blocksLeft == 0)
        {
            _packet = _packetEnd;
            if (_packet >= _compound.Length) { block = default; return false; }
            var header = _compound[_packet..];
            _packetEnd = _packet + (BinaryPrimitives.ReadUInt16BigEndian(header.Slice(2, 2)) + 1) * 4;
            var type = header[1];
            if (type is SenderReport or ReceiverReport)
            {
                _blocksLeft = header[0] & 0x1F;
                _reporter = BinaryPrimitives.ReadUInt32BigEndian(header.Slice(4, 4));
                _block = _packet + (type == SenderReport ? 28 : 8);
            }
        }
        block = RtcpReportBlock.Read(_reporter, _compound.Slice(_block, RtcpReportBlock.Size));
        _block += RtcpReportBlock.Size;
        _blocksLeft--;
        return true;
    }

    /// <summary>
    /// RFC 3550 Appendix A.2, adapted: every packet has version 2 and a packet type 192..223, only the last packet
    /// may carry padding (a count of at least 1 that fits in it), and the packets' length fields add up exactly to the datagram (so an SRTCP datagram,
    /// whose encrypted blocks are followed by an index and an authentication tag, is not read as plain RTCP).
    /// SR and RR packets must also hold the report blocks their count announces (RC × 24 bytes after the sender SSRC,
    /// and for SR the 20 bytes of sender info). The first packet need not be SR/RR (RFC 5506 reduced-size RTCP).
    /// </summary>
    public static bool IsValid(ReadOnlySpan<byte> compound)
    {
        if (compound.Length < 4) return false;
        var offset = 0;
        while (offset < compound.Length)
        {
            var rest = compound[offset..];
            if (rest.Length < 4) return false;
            if (rest[0] >> 6 != 2) return false;
            var type = rest[1];
            if (type is < 192 or > 223) return false;
            var length = (BinaryPrimitives.ReadUInt16BigEndian(rest.Slice(2, 2)) + 1) * 4;
            if (length > rest.Length) return false;
            var content = length;
            if ((rest[0] & 0x20) != 0)
            {
                if (length != rest.Length) return false;                      // padding only on the last packet
                var padding = rest[length - 1];
                if (padding == 0 || padding > length - 4) return false;
                content = length - padding;
            }
            if (type is SenderReport or ReceiverReport)
            {
                var needed = (type == SenderReport ? 28 : 8) + (rest[0] & 0x1F) * RtcpReportBlock.Size;
                if (needed > content) return false;
            }
            offset += length;
        }
        return true;
    }
}
