"""Every class taken from the prebuilt provider packages, imported in this one place.

Why one place: importing these packages is the slowest part of a synth, so how they are
imported is decided here once, and the rest of the code never touches the packages.
"""

from cdktf_cdktf_provider_aws.provider import AwsProvider
from cdktf_cdktf_provider_aws.sqs_queue import SqsQueue
from cdktf_cdktf_provider_google.provider import GoogleProvider
from cdktf_cdktf_provider_google.pubsub_subscription import PubsubSubscription
from cdktf_cdktf_provider_google.pubsub_topic import PubsubTopic

__all__ = ["AwsProvider", "GoogleProvider", "PubsubSubscription", "PubsubTopic", "SqsQueue"]
