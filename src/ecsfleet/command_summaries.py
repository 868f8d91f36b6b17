"""What each lazily loaded command is for: the first paragraph of its help, written once.

A group's command list shows these without importing the commands (ecsfleet.lazy_group), and each
command's own help begins with its entry here, so the two cannot differ. Keys are command paths
under `ecsfleet`; line breaks are kept in the command's own help (docs/reference/cli.md prints it
verbatim) and joined in command lists.
"""

from __future__ import annotations

SUMMARIES: dict[str, str] = {
    "lb-sync": "Keep Classic ELB listeners and health checks on the dynamic host ports of ECS tasks, and\n"
               "register the hosts that run them.",
    "dns-sync": "Publish Route53 A and SRV records from containers' SERVICE_FQDN, SERVICE_FQDN_LOCAL and\n"
                "SERVICE_PORT_<port> environment (ecsd's conventions).",
    "iam-policy": "Print the IAM policy document a capability needs: only the actions it calls,\n"
                  "each statement named (Sid) after what it is for. Options that need more (an events queue, a\n"
                  "lease table, files on S3) add their statements when given; scope flags narrow the resources.",
    "status": "Show a cluster's container instances and tasks, from one snapshot.",
    "sandbox": "An emulated AWS on one local endpoint (moto plus an ECS scheduler and agents), for trying "
               "ecsfleet before giving it credentials.",
    "agents": "ECS container agents: a fleet version report, and safe rolling updates (one instance at a time per "
              "healthy cluster).",
    "bootstrap": "Deploy the cluster-wide controllers (lb-sync, dns-sync, agents, fleet) as scheduled AWS Lambda "
                 "functions, each with a role holding only its own policy.",
    "fleet": "Compute fleets from infra.yml (ecs-cluster-deployer's format): validate, render CloudFormation, plan "
             "and deploy versioned stacks, and show their state.",
    "fleet init": "Scaffold a cluster repository: infra.yml (with comments), a Makefile with the handful of\n"
                  "commands, a GitHub Actions workflow rolling out every push, and a .gitignore. Never overwrites\n"
                  "a file without --force.",
    "fleet pipeline": "The AWS CodePipeline (or GitHub Actions workflow) that rolls out every push: "
                      "ecs-cluster-deployer's put-pipeline.",
}
