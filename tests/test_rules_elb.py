"""Classic ELB rules of the sandbox: each refused call answers AWS's error code, and changes nothing."""

from __future__ import annotations

from typing import Any

from botocore.config import Config

from ecsfleet.sandbox import Sandbox
from ecsfleet.sandbox.seed import any_image
from rules_support import refused

HTTP = {"Protocol": "HTTP", "LoadBalancerPort": 80, "InstanceProtocol": "HTTP", "InstancePort": 8080}
CHECK = {"Target": "HTTP:8080/healthz", "Interval": 10, "Timeout": 5, "UnhealthyThreshold": 2, "HealthyThreshold": 3}


def _lb(sb: Sandbox, name: str = "web-lb", **listener: Any) -> Any:
    """A load balancer in the default VPC (moto's default subnet of zone a)."""
    elb = sb.client("elb")
    elb.create_load_balancer(LoadBalancerName=name, AvailabilityZones=[f"{sb.region}a"],
                             Listeners=[{**HTTP, **listener}])
    return elb


def _describe(sb: Sandbox, name: str = "web-lb") -> dict[str, Any]:
    found: dict[str, Any] = sb.client("elb").describe_load_balancers(LoadBalancerNames=[name])[
        "LoadBalancerDescriptions"][0]
    return found


def _instance(sb: Sandbox, subnet: str | None = None) -> str:
    ec2 = sb.client("ec2")
    if subnet is None:
        subnet = ec2.describe_subnets(Filters=[{"Name": "default-for-az", "Values": ["true"]},
                                               {"Name": "availability-zone", "Values": [f"{sb.region}a"]}])[
            "Subnets"][0]["SubnetId"]
    return str(ec2.run_instances(ImageId=any_image(ec2), MinCount=1, MaxCount=1, SubnetId=subnet)[
        "Instances"][0]["InstanceId"])


def _certificate(sb: Sandbox) -> str:
    return str(sb.client("iam").upload_server_certificate(
        ServerCertificateName="web", CertificateBody="-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----",
        PrivateKey="-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
    )["ServerCertificateMetadata"]["Arn"])


def _ports(sb: Sandbox) -> dict[int, dict[str, Any]]:
    return {d["Listener"]["LoadBalancerPort"]: d["Listener"] for d in _describe(sb)["ListenerDescriptions"]}


def test_load_balancer_exists(sb: Sandbox) -> None:
    elb = _lb(sb)
    error = refused(elb.describe_load_balancers, "LoadBalancerNotFound", LoadBalancerNames=["web-lb", "gone-lb"])
    assert error["Message"] == "Cannot find Load Balancer gone-lb"
    error = refused(elb.configure_health_check, "LoadBalancerNotFound", LoadBalancerName="gone-lb", HealthCheck=CHECK)
    assert error["Message"] == "There is no ACTIVE Load Balancer named 'gone-lb'"
    refused(elb.delete_load_balancer_listeners, "LoadBalancerNotFound", LoadBalancerName="gone-lb",
            LoadBalancerPorts=[80])
    refused(elb.register_instances_with_load_balancer, "LoadBalancerNotFound", LoadBalancerName="gone-lb",
            Instances=[{"InstanceId": _instance(sb)}])
    for tags_call in (elb.describe_tags, elb.remove_tags):
        refused(tags_call, "LoadBalancerNotFound", LoadBalancerNames=["gone-lb"],
                **({"Tags": [{"Key": "k"}]} if tags_call == elb.remove_tags else {}))
    refused(elb.add_tags, "LoadBalancerNotFound", LoadBalancerNames=["gone-lb"], Tags=[{"Key": "k", "Value": "v"}])
    assert [d["LoadBalancerName"] for d in elb.describe_load_balancers()["LoadBalancerDescriptions"]] == ["web-lb"]


def test_tag_keys_distinct(sb: Sandbox) -> None:
    elb = _lb(sb)
    refused(elb.add_tags, "DuplicateTagKeys", LoadBalancerNames=["web-lb"],
            Tags=[{"Key": "team", "Value": "a"}, {"Key": "team", "Value": "b"}])
    assert elb.describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"] == []


def test_tags_per_load_balancer(sb: Sandbox) -> None:
    elb = _lb(sb)
    elb.add_tags(LoadBalancerNames=["web-lb"], Tags=[{"Key": f"k{n}", "Value": "v"} for n in range(9)])
    elb.add_tags(LoadBalancerNames=["web-lb"], Tags=[{"Key": "k0", "Value": "again"}, {"Key": "k9", "Value": "v"}])
    error = refused(elb.add_tags, "TooManyTags", LoadBalancerNames=["web-lb"], Tags=[{"Key": "k10", "Value": "v"}])
    assert "quota for the number of tags" in error["Message"]
    assert len(elb.describe_tags(LoadBalancerNames=["web-lb"])["TagDescriptions"][0]["Tags"]) == 10


def test_listener_protocol_supported(sb: Sandbox) -> None:
    elb = _lb(sb)
    refused(elb.create_load_balancer_listeners, "UnsupportedProtocol", LoadBalancerName="web-lb",
            Listeners=[{**HTTP, "LoadBalancerPort": 81, "Protocol": "UDP", "InstanceProtocol": "UDP"}])
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {**HTTP, "LoadBalancerPort": 81, "Protocol": "tcp", "InstanceProtocol": "tcp"}])  # any case
    assert _ports(sb)[81]["Protocol"] == "TCP"


def test_secure_listener_needs_certificate(sb: Sandbox) -> None:
    elb = _lb(sb)
    for protocol in ("HTTPS", "SSL"):
        error = refused(elb.create_load_balancer_listeners, "ValidationError", LoadBalancerName="web-lb",
                        Listeners=[{"Protocol": protocol, "LoadBalancerPort": 443, "InstancePort": 8080}])
        assert error["Message"] == "Secure Listeners need to specify a SSLCertificateId"
    refused(elb.create_load_balancer, "ValidationError", LoadBalancerName="tls-lb",
            AvailabilityZones=[f"{sb.region}a"], Listeners=[{"Protocol": "HTTPS", "LoadBalancerPort": 443,
                                                             "InstanceProtocol": "HTTP", "InstancePort": 8080}])
    assert set(_ports(sb)) == {80}
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
         "SSLCertificateId": _certificate(sb)}])
    assert set(_ports(sb)) == {80, 443}


def test_listener_protocols_compatible(sb: Sandbox) -> None:
    elb = _lb(sb)
    certificate = _certificate(sb)
    for front, back in (("HTTP", "TCP"), ("HTTPS", "SSL"), ("TCP", "HTTP"), ("SSL", "HTTPS")):
        refused(elb.create_load_balancer_listeners, "ValidationError", LoadBalancerName="web-lb", Listeners=[
            {"Protocol": front, "LoadBalancerPort": 443, "InstanceProtocol": back, "InstancePort": 8443,
             "SSLCertificateId": certificate}])
    assert set(_ports(sb)) == {80}
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {"Protocol": "SSL", "LoadBalancerPort": 443, "InstanceProtocol": "TCP", "InstancePort": 8443,
         "SSLCertificateId": certificate}])
    assert _ports(sb)[443]["InstanceProtocol"] == "TCP"  # moto kept only the front-end protocol


def test_listener_ports_in_range(sb: Sandbox) -> None:
    elb = _lb(sb)
    error = refused(elb.create_load_balancer_listeners, "ValidationError", LoadBalancerName="web-lb",
                    Listeners=[{**HTTP, "LoadBalancerPort": 65536}])
    assert "Member must have value less than or equal to 65535" in error["Message"]
    lax = sb.client("elb", config=Config(parameter_validation=False))  # boto3 checks minimums itself
    refused(lax.create_load_balancer_listeners, "ValidationError", LoadBalancerName="web-lb",
            Listeners=[{**HTTP, "LoadBalancerPort": 81, "InstancePort": 0}])
    # Not EC2-Classic's port list: in a VPC any port 1-65535 listens.
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[{**HTTP, "LoadBalancerPort": 22}])
    assert set(_ports(sb)) == {22, 80}


def test_duplicate_listener(sb: Sandbox) -> None:
    elb = _lb(sb)
    for change in ({"InstancePort": 9090}, {"Protocol": "TCP", "InstanceProtocol": "TCP"},
                   {"InstanceProtocol": "HTTPS"}):
        refused(elb.create_load_balancer_listeners, "DuplicateListener", LoadBalancerName="web-lb",
                Listeners=[{**HTTP, **change}])
    refused(elb.create_load_balancer_listeners, "DuplicateListener", LoadBalancerName="web-lb",
            Listeners=[{**HTTP, "LoadBalancerPort": 81}, {**HTTP, "LoadBalancerPort": 81, "InstancePort": 9090}])
    assert _ports(sb) == {80: HTTP}
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[HTTP])  # the same one: a no-op
    assert _ports(sb) == {80: HTTP}


def test_instance_port_one_security(sb: Sandbox) -> None:
    elb = _lb(sb)
    certificate = _certificate(sb)
    error = refused(elb.create_load_balancer_listeners, "InvalidConfigurationRequest", 409, LoadBalancerName="web-lb",
                    Listeners=[{"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTPS",
                                "InstancePort": 8080, "SSLCertificateId": certificate}])
    assert "8080" in error["Message"]
    assert set(_ports(sb)) == {80}
    # Plain with plain is fine, whatever the layer: HTTP and TCP may share an instance port.
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {"Protocol": "TCP", "LoadBalancerPort": 9000, "InstanceProtocol": "TCP", "InstancePort": 8080},
        {"Protocol": "HTTPS", "LoadBalancerPort": 443, "InstanceProtocol": "HTTP", "InstancePort": 8080,
         "SSLCertificateId": certificate}])
    assert set(_ports(sb)) == {80, 443, 9000}


def test_register_existing_instances(sb: Sandbox) -> None:
    elb = _lb(sb)
    alive, doomed = _instance(sb), _instance(sb)
    sb.client("ec2").terminate_instances(InstanceIds=[doomed])
    error = refused(elb.register_instances_with_load_balancer, "InvalidInstance", LoadBalancerName="web-lb",
                    Instances=[{"InstanceId": alive}, {"InstanceId": doomed}])
    assert error["Message"] == f'InvalidInstance found in [{alive}, {doomed}]. Invalid id: "{doomed}"'
    refused(elb.register_instances_with_load_balancer, "InvalidInstance", LoadBalancerName="web-lb",
            Instances=[{"InstanceId": "i-0123456789abcdef0"}])
    assert _describe(sb)["Instances"] == []  # a refused batch registers none of it
    elb.register_instances_with_load_balancer(LoadBalancerName="web-lb", Instances=[{"InstanceId": alive}])
    elb.register_instances_with_load_balancer(LoadBalancerName="web-lb", Instances=[{"InstanceId": alive}])
    assert _describe(sb)["Instances"] == [{"InstanceId": alive}]  # registered once, however often asked


def test_register_same_vpc(sb: Sandbox) -> None:
    elb = _lb(sb)
    ec2 = sb.client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.0.0/24", AvailabilityZone=f"{sb.region}a")[
        "Subnet"]["SubnetId"]
    elsewhere = _instance(sb, subnet)
    error = refused(elb.register_instances_with_load_balancer, "InvalidInstance", LoadBalancerName="web-lb",
                    Instances=[{"InstanceId": elsewhere}])
    assert error["Message"] == f"EC2 instance {elsewhere} is not in the same VPC as ELB."
    elb.create_load_balancer(LoadBalancerName="vpc-lb", Subnets=[subnet], Listeners=[HTTP])
    elb.register_instances_with_load_balancer(LoadBalancerName="vpc-lb", Instances=[{"InstanceId": elsewhere}])
    assert _describe(sb)["Instances"] == [] and _describe(sb, "vpc-lb")["Instances"] == [{"InstanceId": elsewhere}]


def test_deregister_registered_instances(sb: Sandbox) -> None:
    elb = _lb(sb)
    member, stranger = _instance(sb), _instance(sb)
    elb.register_instances_with_load_balancer(LoadBalancerName="web-lb", Instances=[{"InstanceId": member}])
    error = refused(elb.deregister_instances_from_load_balancer, "InvalidInstance", LoadBalancerName="web-lb",
                    Instances=[{"InstanceId": member}, {"InstanceId": stranger}])
    assert error["Message"] == f"Could not find EC2 instance {stranger}."
    assert _describe(sb)["Instances"] == [{"InstanceId": member}]
    elb.deregister_instances_from_load_balancer(LoadBalancerName="web-lb", Instances=[{"InstanceId": member}])
    assert _describe(sb)["Instances"] == []


def test_health_check_target_syntax(sb: Sandbox) -> None:
    elb = _lb(sb)
    for target in ("HTTP:8080", "HTTPS:8443", "TCP:8080/", "SSL:8443/x", "UDP:53", "HTTP:/healthz", "TCP:70000",
                   "HTTP:http/"):
        refused(elb.configure_health_check, "ValidationError", LoadBalancerName="web-lb",
                HealthCheck={**CHECK, "Target": target})
    error = refused(elb.configure_health_check, "ValidationError", LoadBalancerName="web-lb",
                    HealthCheck={**CHECK, "Target": "HTTP:80"})
    assert error["Message"] == ("HealthCheck HTTP Target must specify a port followed by a path that begins with a "
                                "slash. e.g. HTTP:80/ping/this/path")
    for target in ("TCP:8080", "SSL:8443", "HTTP:8080/", "HTTPS:8443/a/b?c=d"):
        elb.configure_health_check(LoadBalancerName="web-lb", HealthCheck={**CHECK, "Target": target})
        assert _describe(sb)["HealthCheck"]["Target"] == target


def test_health_check_values_in_range(sb: Sandbox) -> None:
    elb = _lb(sb)
    lax = sb.client("elb", config=Config(parameter_validation=False))  # boto3 checks minimums itself
    for change in ({"Interval": 301}, {"Interval": 4, "Timeout": 2}, {"Timeout": 1}, {"Timeout": 61, "Interval": 300},
                   {"HealthyThreshold": 1}, {"HealthyThreshold": 11}, {"UnhealthyThreshold": 1},
                   {"UnhealthyThreshold": 11}):
        error = refused(lax.configure_health_check, "ValidationError", LoadBalancerName="web-lb",
                        HealthCheck={**CHECK, **change})
        assert "failed to satisfy constraint" in error["Message"], change
    assert "HealthCheck" not in _describe(sb) or _describe(sb)["HealthCheck"]["Target"] != CHECK["Target"]
    elb.configure_health_check(LoadBalancerName="web-lb", HealthCheck={
        **CHECK, "Interval": 300, "Timeout": 60, "HealthyThreshold": 10, "UnhealthyThreshold": 2})
    assert _describe(sb)["HealthCheck"]["Interval"] == 300


def test_health_check_timeout_below_interval(sb: Sandbox) -> None:
    elb = _lb(sb)
    for timeout in (10, 11):
        refused(elb.configure_health_check, "ValidationError", LoadBalancerName="web-lb",
                HealthCheck={**CHECK, "Interval": 10, "Timeout": timeout})
    elb.configure_health_check(LoadBalancerName="web-lb", HealthCheck={**CHECK, "Interval": 10, "Timeout": 9})
    assert _describe(sb)["HealthCheck"]["Timeout"] == 9


def test_listener_policies_need_a_listener(sb: Sandbox) -> None:
    elb = _lb(sb)
    elb.create_lb_cookie_stickiness_policy(LoadBalancerName="web-lb", PolicyName="sticky", CookieExpirationPeriod=60)
    refused(elb.set_load_balancer_policies_of_listener, "ListenerNotFound", LoadBalancerName="web-lb",
            LoadBalancerPort=8080, PolicyNames=["sticky"])
    elb.set_load_balancer_policies_of_listener(LoadBalancerName="web-lb", LoadBalancerPort=80, PolicyNames=["sticky"])
    assert _describe(sb)["ListenerDescriptions"][0]["PolicyNames"] == ["sticky"]


def test_policies_exist(sb: Sandbox) -> None:
    elb = _lb(sb)
    elb.create_lb_cookie_stickiness_policy(LoadBalancerName="web-lb", PolicyName="sticky", CookieExpirationPeriod=60)
    error = refused(elb.set_load_balancer_policies_of_listener, "PolicyNotFound", LoadBalancerName="web-lb",
                    LoadBalancerPort=80, PolicyNames=["sticky", "never-made"])
    assert error["Message"] == "There is no policy with name never-made for load balancer web-lb"
    refused(elb.set_load_balancer_policies_for_backend_server, "PolicyNotFound", LoadBalancerName="web-lb",
            InstancePort=8080, PolicyNames=["never-made"])
    assert _describe(sb)["ListenerDescriptions"][0]["PolicyNames"] == []
    assert _describe(sb)["BackendServerDescriptions"] == []


def test_deleting_several_listeners_deletes_each_and_absent_ports_are_no_error(sb: Sandbox) -> None:
    """moto kept (and doubled) listeners when asked to delete two ports at once."""
    elb = _lb(sb)
    elb.create_load_balancer_listeners(LoadBalancerName="web-lb", Listeners=[
        {**HTTP, "LoadBalancerPort": 81}, {**HTTP, "LoadBalancerPort": 82}])
    elb.delete_load_balancer_listeners(LoadBalancerName="web-lb", LoadBalancerPorts=[80, 81, 8000])
    assert set(_ports(sb)) == {82}
