using System.Globalization;
using System.Text.RegularExpressions;

namespace WebhookConnect.Charts.Tests.Rendered;

/// <summary>
/// A container's environment as the kubelet builds it: the image's ENV, then <c>envFrom</c> (ConfigMaps and Secrets,
/// with their prefix), then <c>env</c> in order: literal values with <c>$(VAR)</c> expansion from the variables defined
/// before them (<c>$$</c> escapes; an unknown reference stays as written), <c>secretKeyRef</c>, <c>configMapKeyRef</c>,
/// <c>fieldRef</c> (the pod's name, namespace and addresses as this machine stands in for them) and
/// <c>resourceFieldRef</c>. A missing ConfigMap, Secret or key fails unless marked optional, as the pod would not start.
/// </summary>
public sealed partial class ContainerEnvironment
{
    private readonly RenderedRelease _release;
    private readonly RenderedPod _pod;
    private readonly Container _container;
    private readonly string _name;
    private readonly List<KeyValuePair<string, string>> _defined = [];

    public ContainerEnvironment(RenderedRelease release, RenderedPod pod, Container container, IEnumerable<(string Name, string Value, string Source)> image)
    {
        _release = release;
        _pod = pod;
        _container = container;
        _name = $"{pod.Name}/{container.Name}";
        foreach (var (name, value, source) in image)
        {
            Set(name, value, source);
        }

        // $(VAR) sees the container's own variables (envFrom and env), not the image's ENV.
        _defined.Clear();
        Resolve();
    }

    /// <summary>Every variable, in the order defined (a later definition replaces an earlier one).</summary>
    public List<KeyValuePair<string, string>> Variables { get; } = [];

    /// <summary>Where each variable came from, for messages.</summary>
    public Dictionary<string, string> Sources { get; } = new(StringComparer.Ordinal);

    /// <summary>Variables some <c>$(VAR)</c> reference used: they are consumed by Kubernetes, not unused.</summary>
    public HashSet<string> ExpandedNames { get; } = new(StringComparer.Ordinal);

    private void Resolve()
    {
        foreach (var from in _container.EnvFrom)
        {
            var (kind, reference) = from.ConfigMapRef is { } c ? ("ConfigMap", c) : ("Secret", from.SecretRef!);
            var source = _release.Find(kind, reference.Name);
            if (source is null)
            {
                if (!reference.Optional)
                {
                    throw new InvalidOperationException($"{_name}: envFrom {kind} {reference.Name}, which the chart does not render and the test profile does not provide");
                }

                continue;
            }

            foreach (var (key, value) in KubeObjects.Entries(source))
            {
                Set(from.Prefix + key, System.Text.Encoding.UTF8.GetString(value), $"envFrom {kind} {reference.Name} key {key}");
            }
        }

        foreach (var variable in _container.Env)
        {
            if (variable.ValueFrom is not { } from)
            {
                Set(variable.Name, Expand(variable.Value ?? ""), $"env {variable.Name}");
            }
            else if (from.SecretKeyRef is { } secret)
            {
                SetFrom("Secret", secret, variable.Name);
            }
            else if (from.ConfigMapKeyRef is { } configMap)
            {
                SetFrom("ConfigMap", configMap, variable.Name);
            }
            else if (from.FieldRef is { } field)
            {
                Set(variable.Name, field.FieldPath switch
                {
                    "metadata.name" => _pod.Name + "-0",
                    "metadata.namespace" => _pod.Namespace,
                    "status.podIP" or "status.hostIP" => "127.0.0.1",
                    "spec.nodeName" => "node-0",
                    "spec.serviceAccountName" => "default",
                    _ => throw new InvalidOperationException($"{_name}: env {variable.Name} uses fieldRef {field.FieldPath}, which this test does not emulate"),
                }, $"env {variable.Name} (fieldRef {field.FieldPath})");
            }
            else if (from.ResourceFieldRef is { } resource)
            {
                Set(variable.Name, ResourceValue(resource), $"env {variable.Name} (resourceFieldRef {resource.Resource})");
            }
        }
    }

    private void SetFrom(string kind, KeySelector selector, string name)
    {
        var source = _release.Find(kind, selector.Name);
        if (source is null || !KubeObjects.Entries(source).TryGetValue(selector.Key, out var value))
        {
            if (selector.Optional)
            {
                return;
            }

            throw new InvalidOperationException(source is null
                ? $"{_name}: env {name} reads {kind} {selector.Name}, which the chart does not render and the test profile does not provide"
                : $"{_name}: env {name} reads key '{selector.Key}' of {kind} {selector.Name}, which has no such key");
        }

        Set(name, System.Text.Encoding.UTF8.GetString(value), $"env {name} ({kind} {selector.Name} key {selector.Key})");
    }

    private void Set(string name, string value, string source)
    {
        Variables.RemoveAll(e => e.Key == name);
        Variables.Add(new(name, value));
        _defined.RemoveAll(e => e.Key == name);
        _defined.Add(new(name, value));
        Sources[name] = source;
    }

    /// <summary>Kubernetes' <c>$(VAR)</c> expansion from the variables defined so far; <c>$$</c> escapes; unknown
    /// references stay as written.</summary>
    public string Expand(string text) =>
        VariableReference().Replace(text, match =>
        {
            if (match.Value.StartsWith("$$", StringComparison.Ordinal))
            {
                return match.Value[1..];
            }

            var name = match.Groups["name"].Value;
            if (_defined.LastOrDefault(e => e.Key == name) is { Key: not null } found)
            {
                ExpandedNames.Add(name);
                return found.Value;
            }

            return match.Value;
        });

    private string ResourceValue(ResourceFieldSelector selector)
    {
        var container = selector.ContainerName is { Length: > 0 } name ? _pod.Container(name) : _container;
        var parts = selector.Resource.Split('.');
        var table = parts[0] == "limits" ? container.Resources?.Limits : container.Resources?.Requests;
        var quantity = table?.GetValueOrDefault(parts[1])
            ?? throw new InvalidOperationException($"{_name}: resourceFieldRef {selector.Resource} of {container.Name}, which sets no such resource");
        var value = Quantity(quantity) / Quantity(selector.Divisor ?? "1");
        return Math.Ceiling(value).ToString(CultureInfo.InvariantCulture);
    }

    private static decimal Quantity(string text)
    {
        var match = QuantityPattern().Match(text);
        if (!match.Success)
        {
            throw new InvalidOperationException($"'{text}' is not a Kubernetes quantity");
        }

        var number = decimal.Parse(match.Groups["number"].Value, CultureInfo.InvariantCulture);
        return number * match.Groups["suffix"].Value switch
        {
            "" => 1m,
            "m" => 0.001m,
            "k" => 1e3m,
            "M" => 1e6m,
            "G" => 1e9m,
            "T" => 1e12m,
            "Ki" => 1024m,
            "Mi" => 1024m * 1024,
            "Gi" => 1024m * 1024 * 1024,
            "Ti" => 1024m * 1024 * 1024 * 1024,
            var other => throw new InvalidOperationException($"quantity suffix '{other}' in '{text}' is not handled"),
        };
    }

    [GeneratedRegex(@"\$\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\((?<name>[A-Za-z_][A-Za-z0-9_.\-]*)\)")]
    private static partial Regex VariableReference();

    [GeneratedRegex(@"^(?<number>[0-9.]+)(?<suffix>[a-zA-Z]*)$")]
    private static partial Regex QuantityPattern();
}
