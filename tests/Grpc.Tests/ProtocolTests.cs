using WebhookConnect.Grpc.Protocol;

namespace WebhookConnect.Grpc.Tests;

public sealed class ProtocolTests
{
    [Theory]
    [InlineData(300, "300000u")]
    [InlineData(1_000_000, "1000000m")]
    [InlineData(3_600_000_000, "3600000S")]
    public void TimeoutIsFormattedWithAtMostEightDigits(long milliseconds, string expected) =>
        Assert.Equal(expected, GrpcProtocol.FormatTimeout(TimeSpan.FromMilliseconds(milliseconds)));

    [Theory]
    [InlineData("1H", 3_600_000)]
    [InlineData("2M", 120_000)]
    [InlineData("3S", 3_000)]
    [InlineData("250m", 250)]
    [InlineData("5000u", 5)]
    [InlineData("7000000n", 7)]
    public void TimeoutUnitsAreParsed(string header, long milliseconds)
    {
        Assert.True(GrpcProtocol.TryParseTimeout(header, out var timeout));
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), timeout);
    }

    [Theory]
    [InlineData("")]
    [InlineData("10")]
    [InlineData("123456789S")]
    [InlineData("-1S")]
    [InlineData("1x")]
    public void MalformedTimeoutsAreRejected(string header) => Assert.False(GrpcProtocol.TryParseTimeout(header, out _));

    [Theory]
    [InlineData("plain", "plain")]
    [InlineData("100%", "100%25")]
    [InlineData("ä\n", "%C3%A4%0A")]
    public void StatusMessagesArePercentEncodedAndDecoded(string message, string encoded)
    {
        Assert.Equal(encoded, GrpcProtocol.EncodeStatusMessage(message));
        Assert.Equal(message, GrpcProtocol.DecodeStatusMessage(encoded));
    }

    [Fact]
    public void MalformedPercentEscapesAreKeptLiterally() => Assert.Equal("50%zz", GrpcProtocol.DecodeStatusMessage("50%zz"));

    [Theory]
    [InlineData("application/grpc", true)]
    [InlineData("application/grpc+proto", true)]
    [InlineData("application/grpc; charset=utf-8", true)]
    [InlineData("application/grpc-web", false)]
    [InlineData("application/json", false)]
    [InlineData(null, false)]
    public void GrpcContentTypesAreRecognised(string? contentType, bool expected) =>
        Assert.Equal(expected, GrpcProtocol.IsGrpcContentType(contentType));

    [Fact]
    public void BinaryHeadersAcceptPaddedAndUnpaddedBase64()
    {
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, GrpcProtocol.DecodeBinaryHeader("AAEC/w=="));
        Assert.Equal(new byte[] { 0, 1, 2, 255 }, GrpcProtocol.DecodeBinaryHeader("AAEC/w"));
        Assert.Equal("AAEC/w", GrpcProtocol.EncodeBinaryHeader([0, 1, 2, 255]));
    }
}
