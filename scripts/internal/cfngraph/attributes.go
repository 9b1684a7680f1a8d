package cfngraph

// attributes are the Fn::GetAtt attributes of the resource types a transformed template.yaml
// holds, from each type's "Return values" in the CloudFormation resource reference
// (https://docs.aws.amazon.com/AWSCloudFormation/latest/TemplateReference/aws-template-resource-type-ref.html).
// A type missing here fails the check for any GetAtt on it, so the table grows with the template.
var attributes = map[string]map[string]bool{
	"AWS::ApiGatewayV2::Api":           set("ApiEndpoint", "ApiId"),
	"AWS::ApiGatewayV2::Stage":         set(),
	"AWS::CloudWatch::Alarm":           set("Arn"),
	"AWS::CloudWatch::Dashboard":       set(),
	"AWS::CodeDeploy::Application":     set(),
	"AWS::CodeDeploy::DeploymentGroup": set(),
	"AWS::Events::Rule":                set("Arn"),
	"AWS::IAM::Role":                   set("Arn", "RoleId"),
	"AWS::Lambda::Alias":               set("AliasArn"),
	"AWS::Lambda::EventInvokeConfig":   set(),
	"AWS::Lambda::Function":            set("Arn", "SnapStartResponse.ApplyOn", "SnapStartResponse.OptimizationStatus"),
	"AWS::Lambda::Permission":          set(),
	"AWS::Lambda::Version":             set("FunctionArn", "Version"),
	"AWS::Logs::LogGroup":              set("Arn"),
	"AWS::SecretsManager::Secret":      set("Id"),
	"AWS::SNS::Topic":                  set("TopicArn", "TopicName"),
	"AWS::SQS::Queue":                  set("Arn", "QueueName", "QueueUrl"),
}

func set(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}
