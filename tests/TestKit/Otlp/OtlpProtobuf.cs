using System.Globalization;
using System.Text;

namespace WebhookConnect.TestKit.Otlp;

public sealed record ExportedSpan(
    string ServiceName, string Scope, string Name, int Kind, string TraceId, string SpanId, string ParentSpanId,
    IReadOnlyDictionary<string, string> Attributes);

public sealed record ExportedMetric(string ServiceName, string Scope, string Name);

/// <summary>
/// Just enough of the protobuf wire format to read OTLP export requests (opentelemetry-proto, collector/trace/v1
/// and collector/metrics/v1), so the test checks what a collector would actually receive.
/// </summary>
public static class OtlpProtobuf
{
    // opentelemetry-proto trace/v1 Span.SpanKind.
    public const int SpanKindInternal = 1;
    public const int SpanKindServer = 2;
    public const int SpanKindClient = 3;
    public const int SpanKindProducer = 4;
    public const int SpanKindConsumer = 5;

    /// <summary>Every span of every trace export request the receiver holds so far.</summary>
    public static List<ExportedSpan> SpansIn(OtlpReceiver receiver) =>
        [.. receiver.Requests.Where(r => r.Path == "/v1/traces").SelectMany(r => ReadSpans(r.Body))];

    public static List<ExportedSpan> ReadSpans(byte[] exportTraceServiceRequest)
    {
        var spans = new List<ExportedSpan>();
        foreach (var resourceSpans in Fields(exportTraceServiceRequest).Where(f => f.Number == 1))
        {
            var service = "";
            foreach (var field in Fields(resourceSpans.Bytes))
            {
                if (field.Number == 1)
                {
                    service = Attributes(field.Bytes, 1).GetValueOrDefault("service.name", "");
                }
            }

            foreach (var scopeSpans in Fields(resourceSpans.Bytes).Where(f => f.Number == 2))
            {
                var scope = "";
                foreach (var field in Fields(scopeSpans.Bytes))
                {
                    if (field.Number == 1)
                    {
                        scope = String(Fields(field.Bytes).FirstOrDefault(f => f.Number == 1).Bytes);
                    }
                    else if (field.Number == 2)
                    {
                        spans.Add(ReadSpan(service, scope, field.Bytes));
                    }
                }
            }
        }

        return spans;
    }

    public static List<ExportedMetric> ReadMetrics(byte[] exportMetricsServiceRequest)
    {
        var metrics = new List<ExportedMetric>();
        foreach (var resourceMetrics in Fields(exportMetricsServiceRequest).Where(f => f.Number == 1))
        {
            var service = Fields(resourceMetrics.Bytes).Where(f => f.Number == 1)
                .Select(f => Attributes(f.Bytes, 1).GetValueOrDefault("service.name", "")).FirstOrDefault("");
            foreach (var scopeMetrics in Fields(resourceMetrics.Bytes).Where(f => f.Number == 2))
            {
                var scope = "";
                foreach (var field in Fields(scopeMetrics.Bytes))
                {
                    if (field.Number == 1)
                    {
                        scope = String(Fields(field.Bytes).FirstOrDefault(f => f.Number == 1).Bytes);
                    }
                    else if (field.Number == 2)
                    {
                        metrics.Add(new ExportedMetric(service, scope, String(Fields(field.Bytes).First(f => f.Number == 1).Bytes)));
                    }
                }
            }
        }

        return metrics;
    }

    private static ExportedSpan ReadSpan(string service, string scope, ReadOnlyMemory<byte> span)
    {
        string traceId = "", spanId = "", parent = "", name = "";
        var kind = 0;
        foreach (var field in Fields(span))
        {
            switch (field.Number)
            {
                case 1: traceId = Convert.ToHexString(field.Bytes.Span); break;
                case 2: spanId = Convert.ToHexString(field.Bytes.Span); break;
                case 4: parent = Convert.ToHexString(field.Bytes.Span); break;
                case 5: name = String(field.Bytes); break;
                case 6: kind = (int)field.Varint; break;
                default: break;
            }
        }

        return new ExportedSpan(service, scope, name, kind, traceId, spanId, parent, Attributes(span, 9));
    }

    /// <summary>KeyValue{1: key, 2: AnyValue{1: string, 2: bool, 3: int, 4: double}} entries under <paramref name="fieldNumber"/>.</summary>
    private static Dictionary<string, string> Attributes(ReadOnlyMemory<byte> message, int fieldNumber)
    {
        var attributes = new Dictionary<string, string>();
        foreach (var keyValue in Fields(message).Where(f => f.Number == fieldNumber))
        {
            string key = "", value = "";
            foreach (var field in Fields(keyValue.Bytes))
            {
                if (field.Number == 1)
                {
                    key = String(field.Bytes);
                }
                else if (field.Number == 2)
                {
                    foreach (var any in Fields(field.Bytes))
                    {
                        value = any.Number switch
                        {
                            1 => String(any.Bytes),
                            2 => any.Varint != 0 ? "true" : "false",
                            3 => ((long)any.Varint).ToString(CultureInfo.InvariantCulture),
                            4 => BitConverter.UInt64BitsToDouble(any.Varint).ToString("R", CultureInfo.InvariantCulture),
                            _ => value,
                        };
                    }
                }
            }

            attributes[key] = value;
        }

        return attributes;
    }

    private static string String(ReadOnlyMemory<byte> bytes) => Encoding.UTF8.GetString(bytes.Span);

    private readonly record struct Field(int Number, ulong Varint, ReadOnlyMemory<byte> Bytes);

    private static List<Field> Fields(ReadOnlyMemory<byte> message)
    {
        var fields = new List<Field>();
        var span = message.Span;
        var position = 0;
        while (position < span.Length)
        {
            var tag = ReadVarint(span, ref position);
            var number = (int)(tag >> 3);
            switch ((int)(tag & 7))
            {
                case 0:
                    fields.Add(new Field(number, ReadVarint(span, ref position), default));
                    break;
                case 1:
                    fields.Add(new Field(number, BitConverter.ToUInt64(span.Slice(position, 8)), default));
                    position += 8;
                    break;
                case 2:
                    var length = (int)ReadVarint(span, ref position);
                    fields.Add(new Field(number, 0, message.Slice(position, length)));
                    position += length;
                    break;
                case 5:
                    fields.Add(new Field(number, BitConverter.ToUInt32(span.Slice(position, 4)), default));
                    position += 4;
                    break;
                default:
                    throw new InvalidDataException($"Unsupported protobuf wire type in tag {tag}.");
            }
        }

        return fields;
    }

    private static ulong ReadVarint(ReadOnlySpan<byte> span, ref int position)
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            var b = span[position++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }
}
