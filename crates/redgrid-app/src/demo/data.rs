//! Demo content: an invented coastal district in the style of Tianjin Binhai New
//! Area grassroots governance. Provides the request catalogue (classes, items,
//! tiers, sample descriptions and resolutions), place names, departments,
//! person-name parts and canned texts used to generate a realistic demo data set.
//! All names and texts are fictional.

/// A class (category) of resident / enterprise requests.
pub struct ClassSpec {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub items: &'static [ItemSpec],
}

/// A concrete request item inside a class.
pub struct ItemSpec {
    pub code: &'static str,
    pub name_zh: &'static str,
    pub name_en: &'static str,
    pub tier: &'static str,
    pub descriptions: &'static [&'static str],
    pub resolutions: &'static [&'static str],
}

pub const CATALOGUE: &[ClassSpec] = &[
    // 1. 市容环境 ------------------------------------------------------------
    ClassSpec {
        code: "env",
        name_zh: "市容环境",
        name_en: "City appearance and environment",
        items: &[
            ItemSpec {
                code: "env.garbage",
                name_zh: "垃圾清运不及时",
                name_en: "Garbage not collected",
                tier: "micro",
                descriptions: &[
                    "小区3号楼2单元门口的垃圾桶已经满了两天，没人清运，天热味道很大，苍蝇也多。",
                    "小区东门外的分类垃圾投放点周末一直没人来收，垃圾堆到了路边，希望尽快清理。",
                    "我们楼下的厨余垃圾桶每天早上八点以后才清，晚上经常溢出来，能不能加一次清运？",
                    "菜市场后身的垃圾中转点好几天没清了，污水流到人行道上，路过都得捂着鼻子。",
                ],
                resolutions: &[
                    "已联系环卫作业单位当日完成清运，并将该点位清运频次调整为每日两次。",
                    "网格员现场查看后协调物业清理堆积垃圾，并对投放点周边进行了冲洗消杀。",
                ],
            },
            ItemSpec {
                code: "env.clutter",
                name_zh: "楼道及公共区域乱堆乱放",
                name_en: "Clutter in stairwells and public areas",
                tier: "micro",
                descriptions: &[
                    "5号楼楼道里堆了很多纸箱和旧家具，挡住了消防通道，晚上走路容易磕碰。",
                    "小区北侧绿地边有人长期堆放建筑垃圾，已经快一个月了，严重影响环境。",
                    "12号楼地下室门口堆满杂物，有住户在里面囤积废品，存在火灾隐患。",
                ],
                resolutions: &[
                    "网格员逐户上门沟通，住户已自行清理楼道杂物，消防通道恢复畅通。",
                    "协调物业和社区志愿者清运建筑垃圾约三车，并设置了禁止堆放提示牌。",
                ],
            },
            ItemSpec {
                code: "env.stall",
                name_zh: "占道经营",
                name_en: "Street vending blocking roads",
                tier: "minor",
                descriptions: &[
                    "菜市场西口每天早上有很多流动摊贩占用人行道卖菜，行人只能走机动车道。",
                    "小学门口放学时段小吃摊扎堆，油烟大还堵路，孩子们过马路很危险。",
                    "夜市摊位收摊后垃圾没人管，第二天早上满地都是竹签和塑料袋。",
                ],
                resolutions: &[
                    "已移交街道综合执法队，规劝摊贩进入规定疏导点经营，人行道已恢复通行。",
                    "执法队员在放学时段加强巡查，并与学校、社区组成联合劝导岗。",
                ],
            },
            ItemSpec {
                code: "env.flyers",
                name_zh: "小广告乱贴乱画",
                name_en: "Illegal flyers and graffiti",
                tier: "micro",
                descriptions: &[
                    "单元门和电梯里贴满了开锁、疏通下水道的小广告，撕了又贴，很难看。",
                    "小区围墙外侧被人用喷漆写满了办证电话，影响市容，希望能清理一下。",
                    "公交站亭上贴了好多招租广告，层层叠叠的，已经看不清站牌了。",
                ],
                resolutions: &[
                    "组织志愿者对单元门、电梯进行集中清理，并提请执法部门对广告号码停机处理。",
                    "已协调环卫部门对围墙喷漆进行覆盖粉刷，墙面恢复整洁。",
                ],
            },
        ],
    },
    // 2. 物业管理 ------------------------------------------------------------
    ClassSpec {
        code: "property",
        name_zh: "物业管理",
        name_en: "Property management",
        items: &[
            ItemSpec {
                code: "property.elevator",
                name_zh: "电梯故障",
                name_en: "Elevator breakdown",
                tier: "minor",
                descriptions: &[
                    "8号楼1单元电梯这周停了三次，楼上住着好几位老人，下楼看病特别不方便。",
                    "电梯运行时有异响，还经常停在两层中间，住户都不敢坐了。",
                    "我们楼的电梯已经坏了十多天，物业说在等配件，一直没有修好。",
                    "电梯里的紧急呼叫按钮按了没人应答，担心真出事时没人救援。",
                ],
                resolutions: &[
                    "督促物业联系维保单位更换故障部件，电梯已恢复运行并经检测合格。",
                    "社区约谈物业负责人明确维修时限，维修期间安排志愿者帮助高层老人上下楼。",
                ],
            },
            ItemSpec {
                code: "property.leak",
                name_zh: "管道漏水",
                name_en: "Pipe leakage",
                tier: "micro",
                descriptions: &[
                    "楼上卫生间漏水，我家天花板都泡了，找楼上邻居一直联系不上。",
                    "2号楼3单元楼道里的上水管一直在滴水，地面总是湿的，冬天容易结冰滑倒。",
                    "9号楼地下室暖气管道漏水，积水已经没过脚面，还冒着热气。",
                ],
                resolutions: &[
                    "物业维修人员已关闭阀门、更换漏水管段，并清理了地下室积水。",
                    "网格员联系上楼上业主，双方约定共同维修，已完成防水处理。",
                ],
            },
            ItemSpec {
                code: "property.fee",
                name_zh: "物业收费争议",
                name_en: "Property fee dispute",
                tier: "minor",
                descriptions: &[
                    "物业今年突然上调停车管理费，没开业主大会也没有公示，我们不认可。",
                    "物业服务很差，楼道卫生没人打扫，还要按原价收费，想问问怎么维权。",
                    "公共部位水电费分摊明细物业一直不公开，每月的账单都看不明白。",
                ],
                resolutions: &[
                    "社区组织物业与业主代表召开协商会，物业同意暂缓调价并公示收费依据。",
                    "指导业主通过业委会依法提出意见，物业承诺按季度公开公共收益明细。",
                ],
            },
            ItemSpec {
                code: "property.heating",
                name_zh: "供暖不热",
                name_en: "Insufficient heating",
                tier: "minor",
                descriptions: &[
                    "家里暖气温度只有十五度左右，老人孩子都冻得受不了，已经反映过两次了。",
                    "11号楼顶层几户的暖气一直不热，估计是管道里有空气，希望派人来排气。",
                    "供热公司说我家欠费停了暖气，可我已经交过了，手里有缴费凭证。",
                ],
                resolutions: &[
                    "供热单位上门入户测温并排气，室温已提升至二十度以上。",
                    "协调供热公司核对缴费记录，确认系系统延迟，当日已恢复供暖。",
                ],
            },
            ItemSpec {
                code: "property.unmanaged",
                name_zh: "无物业小区管理",
                name_en: "Compounds without property management",
                tier: "medium",
                descriptions: &[
                    "我们是老旧开放式小区，没有物业，路灯坏了、垃圾没人清，不知道该找谁。",
                    "原来的物业公司撤走半年了，小区大门没人看，外来车辆随便进出。",
                    "小区没有物业，化粪池满了往外溢，楼下味道特别大，居民自己凑钱也不够。",
                ],
                resolutions: &[
                    "街道引入国企物业兜底托管，先期提供保洁、秩序维护等基础服务。",
                    "社区党委牵头成立居民自管小组，协调清掏化粪池并建立日常维护制度。",
                ],
            },
            ItemSpec {
                code: "property.renovation",
                name_zh: "老旧小区改造",
                name_en: "Renovation of old residential compounds",
                tier: "hard",
                descriptions: &[
                    "我们小区是上世纪八十年代建的，外墙脱落、管线老化、下水经常堵，希望纳入老旧小区改造。",
                    "小区改造施工已经拖了半年，楼前路面挖开了一直没恢复，出行很不方便。",
                    "听说要做老旧小区改造，居民想知道具体改哪些内容，能不能顺便增加停车位。",
                    "改造后新换的雨水管又漏了，顶层几户屋里返潮，找施工方一直推脱。",
                ],
                resolutions: &[
                    "已将小区列入区老旧小区改造计划，完成屋面防水、管网更换和外墙保温。",
                    "社区召开居民议事会征集改造意见，施工方承诺分段施工并按期恢复路面。",
                    "督促施工单位履行质保责任，已返修雨水管并对受损住户进行补偿。",
                ],
            },
        ],
    },
    // 3. 公共设施 ------------------------------------------------------------
    ClassSpec {
        code: "facility",
        name_zh: "公共设施",
        name_en: "Public facilities",
        items: &[
            ItemSpec {
                code: "facility.streetlight",
                name_zh: "路灯不亮",
                name_en: "Street light out",
                tier: "micro",
                descriptions: &[
                    "小区南门到公交站那段路的路灯已经一个星期不亮了，晚上下班回家很害怕。",
                    "7号楼旁边的庭院灯一直闪，有时候整晚都不亮。",
                    "桥下人行通道里的照明灯坏了好几盏，黑乎乎的，老人都不敢走。",
                ],
                resolutions: &[
                    "已报区照明管理部门，维修人员更换了损坏灯具，路灯恢复正常照明。",
                    "物业更换了庭院灯镇流器和灯泡，网格员夜间复查确认已亮。",
                ],
            },
            ItemSpec {
                code: "facility.fitness",
                name_zh: "健身器材损坏",
                name_en: "Broken fitness equipment",
                tier: "micro",
                descriptions: &[
                    "小区中心广场上的漫步机轴承断了，踩上去晃得厉害，孩子玩很危险。",
                    "社区健身角的单杠生锈松动，前两天有位老人锻炼时差点摔倒。",
                    "健身器材区的塑胶地面破了好几个洞，早上锻炼的人很容易绊脚。",
                ],
                resolutions: &[
                    "已拆除损坏器材并设置警示标识，联系厂家完成更换安装。",
                    "社区使用为民服务专项资金修补健身区地面，已恢复使用。",
                ],
            },
            ItemSpec {
                code: "facility.charging",
                name_zh: "电动自行车充电设施不足",
                name_en: "Insufficient e-bike charging facilities",
                tier: "medium",
                descriptions: &[
                    "小区几百辆电动自行车只有一处充电桩，根本不够用，很多人从楼上拉线充电。",
                    "我们想在小区里加装电动车充电棚，不知道需要哪些部门审批。",
                    "新装的充电桩收费太贵，而且经常扫码没反应，希望增加充电点位。",
                ],
                resolutions: &[
                    "街道协调供电部门和运营企业在小区新建充电棚两处，新增充电口八十个。",
                    "社区召开议事会征求居民意见，完成选址并已进入施工阶段。",
                ],
            },
        ],
    },
    // 4. 道路交通 ------------------------------------------------------------
    ClassSpec {
        code: "traffic",
        name_zh: "道路交通",
        name_en: "Roads and traffic",
        items: &[
            ItemSpec {
                code: "traffic.parking",
                name_zh: "停车难",
                name_en: "Parking shortage",
                tier: "medium",
                descriptions: &[
                    "小区车位太少，每天晚上车都停到消防通道上，救护车都进不来。",
                    "周边写字楼的车白天停满了我们小区门口的路，居民的车出不去。",
                    "老旧小区没有停车场，能不能把西侧闲置的空地改成停车位？",
                ],
                resolutions: &[
                    "街道协调周边单位错时共享停车位一百二十个，夜间向居民开放。",
                    "利用闲置空地改建临时停车场，已施划车位六十余个并安排专人管理。",
                ],
            },
            ItemSpec {
                code: "traffic.road",
                name_zh: "道路破损与井盖缺失",
                name_en: "Damaged roads and missing manhole covers",
                tier: "minor",
                descriptions: &[
                    "靠近公交站的那段路面坑坑洼洼，下雨后积水很深，车过时溅人一身。",
                    "小区主干道水泥路面开裂塌陷，已经有老人在这里崴了脚。",
                    "路口有个井盖不见了，只插了根树枝，晚上非常危险。",
                    "人行道砖松动翘起好多块，推婴儿车根本走不了。",
                ],
                resolutions: &[
                    "已报道路养护单位进行坑槽修补，路面恢复平整。",
                    "网格员现场设置围挡警示，权属单位当日补装了新井盖。",
                    "物业使用维修资金对小区破损路面进行了整体修复。",
                ],
            },
            ItemSpec {
                code: "traffic.signal",
                name_zh: "交通信号与标线",
                name_en: "Traffic signals and road markings",
                tier: "minor",
                descriptions: &[
                    "学校门口的斑马线已经磨得看不清了，车辆经常不减速，孩子过马路很危险。",
                    "十字路口的人行绿灯时间太短，老人走到一半就变灯了。",
                    "新开通的路口没有红绿灯，早晚高峰车特别乱，已经发生过几起剐蹭。",
                ],
                resolutions: &[
                    "协调交警部门重新施划斑马线，并增设减速带和“前方学校”警示牌。",
                    "交警部门已调整该路口行人信号灯配时，绿灯时间延长十秒。",
                ],
            },
            ItemSpec {
                code: "traffic.bus",
                name_zh: "公交线路与站点调整",
                name_en: "Bus routes and stops",
                tier: "major",
                descriptions: &[
                    "我们新建小区附近没有公交站，最近的站要走一公里多，希望增设线路。",
                    "早高峰公交车间隔太长，经常等二十多分钟，上班总是迟到。",
                    "公交线路改道后小区门口的站取消了，老人去医院很不方便。",
                ],
                resolutions: &[
                    "经区交通部门调研，已在小区东侧增设停靠站，并延伸一条公交线路。",
                    "将居民建议汇总报区交通运输部门，早高峰已加密至十分钟一班。",
                ],
            },
        ],
    },
    // 5. 环境保护 ------------------------------------------------------------
    ClassSpec {
        code: "ecology",
        name_zh: "生态环境保护",
        name_en: "Environmental protection",
        items: &[
            ItemSpec {
                code: "ecology.noise",
                name_zh: "噪声扰民",
                name_en: "Noise nuisance",
                tier: "minor",
                descriptions: &[
                    "楼下广场舞每天晚上跳到十点多，音响开得特别大，孩子没法写作业。",
                    "附近工地夜里十二点还在施工，打桩声吵得整栋楼都睡不着。",
                    "临街酒吧每晚放音乐到凌晨两点，噪声很大，多次反映都没人管。",
                ],
                resolutions: &[
                    "社区与广场舞队协商，将活动结束时间调整为晚八点半并降低音量。",
                    "已移交生态环境执法部门，工地已停止夜间违规施工。",
                ],
            },
            ItemSpec {
                code: "ecology.fume",
                name_zh: "餐饮油烟扰民",
                name_en: "Restaurant cooking fumes",
                tier: "minor",
                descriptions: &[
                    "底商烧烤店的油烟直接排到我们楼上，窗户都不敢开，衣服上全是烟味。",
                    "楼下饭店的排烟管道正对着我家卧室，油烟净化设备好像根本没开。",
                    "小区门口的早点铺每天五点开始炸油条，油烟和噪声都很大。",
                ],
                resolutions: &[
                    "执法部门现场检查，责令商户正常使用油烟净化设施，排烟口已改造抬高。",
                    "社区组织商户与居民面对面协商，商户调整排烟方向并定期清洗净化器。",
                ],
            },
            ItemSpec {
                code: "ecology.dust",
                name_zh: "扬尘与异味",
                name_en: "Dust and odour",
                tier: "medium",
                descriptions: &[
                    "旁边工地的土堆没有苫盖，一刮风满天都是灰，阳台上积了厚厚一层。",
                    "晚上经常闻到一股刺鼻的化工味，刮东风的时候特别明显。",
                    "渣土车拉土不盖篷布，路上撒得到处都是，一过车就起尘。",
                ],
                resolutions: &[
                    "已督促施工单位对裸露土方全部苫盖，并增设喷淋降尘设施。",
                    "生态环境部门开展夜间巡查和走航监测，对一家超标排放企业依法立案。",
                ],
            },
            ItemSpec {
                code: "ecology.water",
                name_zh: "河道水体污染",
                name_en: "River and water pollution",
                tier: "hard",
                descriptions: &[
                    "小区后面的河道水发黑发臭，夏天蚊虫特别多，窗户都不能开。",
                    "有人往明渠里倾倒生活污水和垃圾，河面上漂了很多塑料瓶。",
                    "雨水管道里流出来的水颜色发黄，怀疑附近有企业偷排。",
                ],
                resolutions: &[
                    "区水务部门对河道进行清淤和水体治理，排查封堵了三处排污口。",
                    "河长办组织打捞漂浮物并加密巡河频次，水质已明显改善。",
                ],
            },
        ],
    },
    // 6. 邻里纠纷 ------------------------------------------------------------
    ClassSpec {
        code: "dispute",
        name_zh: "矛盾纠纷调解",
        name_en: "Dispute mediation",
        items: &[
            ItemSpec {
                code: "dispute.neighbor",
                name_zh: "邻里矛盾",
                name_en: "Neighbour conflicts",
                tier: "micro",
                descriptions: &[
                    "楼上邻居家孩子天天在家跑跳，晚上十一点还咚咚响，沟通几次都没用。",
                    "对门邻居在楼道里放鞋柜，还装了摄像头对着我家门，感觉侵犯隐私。",
                    "隔壁在院子里养了好几只狗，每天乱叫还随地大小便，协商不成。",
                ],
                resolutions: &[
                    "网格员联合人民调解员上门调解，双方达成谅解，楼上铺设了隔音地垫。",
                    "经社区调解，邻居调整了摄像头角度并将鞋柜移回室内。",
                ],
            },
            ItemSpec {
                code: "dispute.family",
                name_zh: "家庭矛盾",
                name_en: "Family disputes",
                tier: "minor",
                descriptions: &[
                    "我和儿子儿媳因为老房子的事经常吵架，希望社区能帮我们调解一下。",
                    "兄妹几个在赡养老母亲的问题上谁也不让谁，老人现在没人照顾。",
                    "邻居家夫妻经常半夜吵架摔东西，还能听到孩子哭，担心会出事。",
                ],
                resolutions: &[
                    "社区人民调解委员会组织家庭会议，兄妹签订了轮流赡养协议。",
                    "网格员与妇联干部上门走访，开展心理疏导并建立定期回访机制。",
                ],
            },
            ItemSpec {
                code: "dispute.wage",
                name_zh: "劳资纠纷",
                name_en: "Unpaid wages and labour disputes",
                tier: "major",
                descriptions: &[
                    "我在附近工地干了四个月活，老板一直拖欠工资，一共两万多元。",
                    "公司突然停业，老板联系不上，我们二十多名员工的工资和社保都没结清。",
                    "装修队干完活，业主以质量问题为由拒付尾款，双方僵持不下。",
                ],
                resolutions: &[
                    "街道劳动保障监察中队约谈施工总包单位，欠薪已全部足额支付到位。",
                    "协调区人社部门立案处理，并为职工提供法律援助申请劳动仲裁。",
                ],
            },
        ],
    },
    // 7. 社会保障与救助 ------------------------------------------------------
    ClassSpec {
        code: "welfare",
        name_zh: "社会保障与救助",
        name_en: "Social security and assistance",
        items: &[
            ItemSpec {
                code: "welfare.dibao",
                name_zh: "低保申请与复核",
                name_en: "Minimum living allowance application",
                tier: "minor",
                descriptions: &[
                    "我丈夫去年患病去世，我一个人带孩子没有工作，想咨询能不能申请低保。",
                    "我家低保到期复核，材料交了一个多月还没有消息。",
                    "儿子重度残疾，家里收入很低，不清楚符不符合低保条件。",
                ],
                resolutions: &[
                    "社区协助申请人准备材料并入户核查，经街道审批已纳入低保保障范围。",
                    "已向街道民政部门了解复核进度，材料补齐后已审批通过。",
                ],
            },
            ItemSpec {
                code: "welfare.hardship",
                name_zh: "困难群众帮扶",
                name_en: "Support for families in hardship",
                tier: "minor",
                descriptions: &[
                    "我们楼有一户老两口都生病了，家里困难，冬天连暖气都舍不得开。",
                    "家里突发火灾，衣服被褥全烧了，一家四口暂时没地方住。",
                    "孩子考上大学了，学费还差一万多，不知道有没有助学帮扶政策。",
                    "单亲妈妈带着两个孩子，打零工收入不稳定，希望能得到一些帮助。",
                ],
                resolutions: &[
                    "社区党员结对帮扶，送去米面油和取暖补贴，并协助申请临时救助。",
                    "街道启动临时救助程序发放救助金，并协调爱心企业捐赠生活物资。",
                ],
            },
            ItemSpec {
                code: "welfare.disability",
                name_zh: "残疾人服务",
                name_en: "Services for people with disabilities",
                tier: "minor",
                descriptions: &[
                    "我是肢体残疾人，想申请辅助器具和轮椅，不知道去哪儿办。",
                    "4号楼单元门口有三级台阶，坐轮椅出不去，能不能帮忙修个无障碍坡道？",
                    "残疾证到期需要换证，我行动不便，能不能上门办理？",
                ],
                resolutions: &[
                    "协调区残联为申请人适配轮椅一台，已送货上门并指导使用。",
                    "社区将该单元纳入无障碍改造计划，已加装坡道和扶手。",
                ],
            },
            ItemSpec {
                code: "welfare.insurance",
                name_zh: "社保医保咨询",
                name_en: "Social and medical insurance enquiries",
                tier: "micro",
                descriptions: &[
                    "我是灵活就业人员，想问一下职工养老保险怎么以个人身份缴费。",
                    "孩子刚出生，城乡居民医保在哪里办理，需要带什么材料？",
                    "退休前想把外地的养老保险关系转过来，不清楚办理流程。",
                ],
                resolutions: &[
                    "网格员现场讲解缴费流程，并协助其通过手机完成参保登记。",
                    "社区党群服务中心代办窗口已为新生儿完成医保参保登记。",
                ],
            },
        ],
    },
    // 8. 养老服务 ------------------------------------------------------------
    ClassSpec {
        code: "elderly",
        name_zh: "养老服务",
        name_en: "Elderly care",
        items: &[
            ItemSpec {
                code: "elderly.emptynest",
                name_zh: "空巢独居老人关怀",
                name_en: "Care for empty-nest and solitary elderly",
                tier: "micro",
                descriptions: &[
                    "我家老爷子八十多岁独居，子女都在外地，希望社区能经常去看看。",
                    "对门的大爷一个人住，这两天一直没见他出门，敲门也没人应。",
                    "我母亲独居，最近记性越来越差，经常忘记关煤气，我们在外地很担心。",
                ],
                resolutions: &[
                    "已将老人纳入独居老人关爱名单，安排网格员和志愿者每周上门探访两次。",
                    "网格员联系家属后入户查看，老人身体不适，已协助送医并通知子女。",
                    "为老人安装了燃气报警器和一键呼叫设备，并与子女建立联系群。",
                ],
            },
            ItemSpec {
                code: "elderly.meal",
                name_zh: "老年助餐",
                name_en: "Meal services for the elderly",
                tier: "minor",
                descriptions: &[
                    "社区老年食堂饭菜口味太咸，而且只有中午供餐，希望增加晚餐。",
                    "我腿脚不方便，去不了助餐点，社区能不能提供送餐上门服务？",
                    "老年助餐补贴怎么享受？我今年七十五岁了，还没办卡。",
                ],
                resolutions: &[
                    "社区与助餐点协商调整菜品，增加低盐低糖餐并试点晚餐供应。",
                    "已为老人登记送餐上门服务，由志愿者每天中午按时送达。",
                ],
            },
            ItemSpec {
                code: "elderly.homecare",
                name_zh: "居家养老服务",
                name_en: "Home-based elderly care",
                tier: "minor",
                descriptions: &[
                    "老伴中风后卧床，我一个人照顾太吃力，想申请居家养老上门服务。",
                    "想了解一下家庭养老床位怎么申请，政府有没有补贴。",
                    "家里老人需要定期上门理发、助浴，不知道社区有没有这项服务。",
                ],
                resolutions: &[
                    "已协助申请居家养老服务，经评估由服务机构每周上门护理三次。",
                    "社区联系养老服务驿站，为老人安排了上门助浴和理发服务。",
                ],
            },
            ItemSpec {
                code: "elderly.retrofit",
                name_zh: "适老化改造与加装电梯",
                name_en: "Age-friendly retrofitting and lift installation",
                tier: "medium",
                descriptions: &[
                    "老房子卫生间没有扶手，我母亲上次洗澡摔了一跤，想申请适老化改造。",
                    "我们是六层老楼，很多老人住在高层下不来，希望能加装电梯。",
                    "楼道台阶又陡又窄，没有扶手，老人上下楼很吃力。",
                ],
                resolutions: &[
                    "纳入年度适老化改造项目，已为老人家中安装扶手、防滑地垫和感应夜灯。",
                    "社区组织加装电梯协商会，已征得本单元全体业主同意并启动报批。",
                ],
            },
        ],
    },
    // 9. 医疗卫生 ------------------------------------------------------------
    ClassSpec {
        code: "health",
        name_zh: "医疗卫生",
        name_en: "Health and medical care",
        items: &[
            ItemSpec {
                code: "health.clinic",
                name_zh: "社区医疗与家庭医生",
                name_en: "Community clinics and family doctors",
                tier: "minor",
                descriptions: &[
                    "社区卫生服务站周末不开门，老人头疼脑热只能跑大医院。",
                    "想签约家庭医生，不知道怎么办理，签约后有哪些服务？",
                    "高血压老人每月都要去医院开药，能不能在社区卫生站直接开？",
                ],
                resolutions: &[
                    "协调社区卫生服务中心开设周末门诊，并公布值班医生电话。",
                    "家庭医生团队已上门为老人签约，并提供慢病长处方服务。",
                ],
            },
            ItemSpec {
                code: "health.pests",
                name_zh: "病媒生物防制",
                name_en: "Pest and vector control",
                tier: "micro",
                descriptions: &[
                    "小区垃圾站附近老鼠特别多，大白天都能看见，孩子很害怕。",
                    "10号楼地下室常年积水，蚊子特别多，晚上被咬得睡不好觉。",
                    "楼下饭店后厨蟑螂很多，已经爬到我们家里来了。",
                ],
                resolutions: &[
                    "联系病媒防制单位布设鼠饵站，并清理垃圾站周边卫生死角。",
                    "组织对地下室积水进行抽排和灭蚊消杀，同时督促饭店整改卫生。",
                ],
            },
            ItemSpec {
                code: "health.food",
                name_zh: "食品药品安全",
                name_en: "Food and drug safety",
                tier: "medium",
                descriptions: &[
                    "在小区门口超市买的牛奶已经过期了，店家还不给退。",
                    "楼下新开的熟食店没有健康证也没亮营业执照，卫生条件很差。",
                    "有人在小区活动室向老人推销所谓的保健品，说能治百病，价格很贵。",
                ],
                resolutions: &[
                    "市场监管部门现场检查，对超市销售过期食品立案查处，已为居民退款。",
                    "社区联合市场监管所开展防范保健品骗局宣传，涉事人员已被劝离。",
                ],
            },
        ],
    },
    // 10. 教育与托育 ---------------------------------------------------------
    ClassSpec {
        code: "edu",
        name_zh: "教育与托育",
        name_en: "Education and childcare",
        items: &[
            ItemSpec {
                code: "edu.enrolment",
                name_zh: "入学政策咨询",
                name_en: "School enrolment enquiries",
                tier: "minor",
                descriptions: &[
                    "孩子明年上小学，我们是租房户，想问问入学需要准备哪些材料。",
                    "新建小区的学区划分一直没有公布，很多家长都很着急。",
                    "外地户籍随迁子女入学需要什么条件，材料在哪儿提交？",
                ],
                resolutions: &[
                    "已协调区教育部门为家长解答入学政策，并提供了材料清单。",
                    "将居民关切反馈区教育部门，学区划分方案已在官网公示。",
                ],
            },
            ItemSpec {
                code: "edu.nursery",
                name_zh: "普惠托育服务",
                name_en: "Affordable childcare for toddlers",
                tier: "medium",
                descriptions: &[
                    "附近没有普惠托育机构，两岁的孩子只能老人带，希望社区能想想办法。",
                    "私立托育机构收费太高，一个月要四五千元，能不能引进普惠托育？",
                    "想了解婴幼儿照护方面的育儿指导，社区有没有相关讲座？",
                ],
                resolutions: &[
                    "街道引入普惠托育机构入驻党群服务中心，已开设托班二十个学位。",
                    "社区联合妇幼保健机构开展科学育儿讲座，并建立家长交流群。",
                ],
            },
            ItemSpec {
                code: "edu.afterschool",
                name_zh: "课后托管与四点半课堂",
                name_en: "After-school care",
                tier: "minor",
                descriptions: &[
                    "我们是双职工，孩子下午三点半就放学了，没人接，社区能不能办托管班？",
                    "暑假孩子在家没人管，想问社区有没有暑期托管或公益课堂。",
                    "社区四点半课堂名额太少，报名第一天就满了，希望能多开一个班。",
                ],
                resolutions: &[
                    "社区联合学校和志愿者开办“四点半课堂”，为三十余名学生提供课后看护。",
                    "开设暑期公益托管班，安排大学生志愿者辅导作业并开展兴趣活动。",
                ],
            },
        ],
    },
    // 11. 就业创业 -----------------------------------------------------------
    ClassSpec {
        code: "jobs",
        name_zh: "就业创业",
        name_en: "Employment and entrepreneurship",
        items: &[
            ItemSpec {
                code: "jobs.seeking",
                name_zh: "求职就业服务",
                name_en: "Job-seeking assistance",
                tier: "micro",
                descriptions: &[
                    "我今年四十五岁，工厂裁员后一直没找到工作，希望社区能推荐岗位。",
                    "我是应届毕业生，想了解区里有哪些企业在招聘，近期有没有招聘会。",
                    "家里有残疾人，想找一份能在家里做的工作，不知道有没有渠道。",
                ],
                resolutions: &[
                    "社区就业服务站为其推荐三个岗位，已成功入职一家物流企业。",
                    "已将辖区企业招聘信息推送给求职者，并邀请参加街道春季招聘会。",
                ],
            },
            ItemSpec {
                code: "jobs.training",
                name_zh: "职业技能培训",
                name_en: "Vocational skills training",
                tier: "micro",
                descriptions: &[
                    "想学育婴师或者养老护理员，社区有没有免费的培训班？",
                    "我想学电工考个证，不知道有没有政府补贴的培训项目。",
                    "失业后想学点手艺，比如面点、家政，去哪里报名？",
                ],
                resolutions: &[
                    "已为其报名区人社部门组织的养老护理员免费培训，结业后可持证上岗。",
                    "社区汇总居民培训需求，联合职业培训学校开设家政服务培训班。",
                ],
            },
            ItemSpec {
                code: "jobs.startup",
                name_zh: "创业扶持",
                name_en: "Start-up support",
                tier: "minor",
                descriptions: &[
                    "我想开一家社区小超市，听说有创业担保贷款，想问问怎么申请。",
                    "退役后想自主创业，有没有针对退役军人的创业扶持政策？",
                    "大学生创业想找个便宜的办公场地，孵化基地怎么入驻？",
                ],
                resolutions: &[
                    "协助申请人准备创业担保贷款材料，已获批贷款并享受贴息。",
                    "对接区创业孵化基地，为其提供免费工位和创业导师指导。",
                ],
            },
        ],
    },
    // 12. 为企服务 -----------------------------------------------------------
    ClassSpec {
        code: "enterprise",
        name_zh: "为企服务",
        name_en: "Services for enterprises",
        items: &[
            ItemSpec {
                code: "enterprise.recruit",
                name_zh: "企业用工招聘",
                name_en: "Enterprise recruitment",
                tier: "minor",
                descriptions: &[
                    "我们是港口物流企业，急需叉车司机和仓库管理员二十名，希望帮忙对接。",
                    "公司新生产线下月投产，需要招聘一线操作工五十人，能否协助组织招聘会？",
                    "企业想招一批高校毕业生，希望对接区里的人才引进和安居政策。",
                ],
                resolutions: &[
                    "街道为企业组织专场招聘会，现场达成用工意向三十余人。",
                    "已将岗位信息推送至各社区就业服务站，并协调职业院校定向输送学员。",
                ],
            },
            ItemSpec {
                code: "enterprise.policy",
                name_zh: "政策申报咨询",
                name_en: "Policy and subsidy application advice",
                tier: "minor",
                descriptions: &[
                    "我们是科技型中小企业，想了解高新技术企业认定怎么申报。",
                    "听说有稳岗补贴和社保补贴，我们企业符合条件吗，怎么申请？",
                    "企业想申报技术改造专项资金，不清楚申报时间和材料要求。",
                ],
                resolutions: &[
                    "企业服务专员上门讲解政策，帮助企业梳理申报材料，已按期提交。",
                    "协调区科技部门开展一对一辅导，企业已完成高新技术企业认定申报。",
                ],
            },
            ItemSpec {
                code: "enterprise.surroundings",
                name_zh: "园区周边配套",
                name_en: "Supporting amenities around business parks",
                tier: "major",
                descriptions: &[
                    "园区门口没有公交站，员工上下班很不方便，希望能开通通勤线路。",
                    "厂区周边道路没有路灯，夜班员工下班走路很不安全。",
                    "园区附近没有餐饮和便利店，几百名员工吃饭只能叫外卖。",
                ],
                resolutions: &[
                    "协调区交通部门开通园区通勤专线，早晚高峰各发车四班。",
                    "街道协调相关部门在园区周边新设路灯，并引入便利店和职工食堂。",
                ],
            },
            ItemSpec {
                code: "enterprise.approval",
                name_zh: "审批办证帮办",
                name_en: "Help with permits and approvals",
                tier: "medium",
                descriptions: &[
                    "企业想扩建厂房，规划审批材料交了很久，不知道卡在哪个环节。",
                    "餐饮企业办理食品经营许可证需要哪些条件，能不能帮忙指导？",
                    "公司变更经营范围，网上办理一直提示材料不符合，不知道怎么改。",
                ],
                resolutions: &[
                    "区政务服务部门安排专人帮办代办，审批已在承诺时限内办结。",
                    "服务专员协助企业修改申报材料，变更登记已顺利完成。",
                ],
            },
            ItemSpec {
                code: "enterprise.utilities",
                name_zh: "企业水电气保障",
                name_en: "Utility supply for enterprises",
                tier: "medium",
                descriptions: &[
                    "园区这个月已经停电三次，生产线每次停机损失好几万元，希望尽快解决。",
                    "我们厂要扩产，现有电力容量不够，申请增容两个月了一直没有进展。",
                    "企业用水压力不足，高峰时段车间设备没法正常运行。",
                ],
                resolutions: &[
                    "协调供电公司排查线路故障并更换老化设备，供电已恢复稳定。",
                    "推动供电部门开辟增容绿色通道，增容工程已完成并通电。",
                ],
            },
        ],
    },
    // 13. 平安建设 -----------------------------------------------------------
    ClassSpec {
        code: "safety",
        name_zh: "平安建设",
        name_en: "Public safety",
        items: &[
            ItemSpec {
                code: "safety.fire",
                name_zh: "消防安全隐患",
                name_en: "Fire safety hazards",
                tier: "minor",
                descriptions: &[
                    "有人把电动自行车推进楼道里充电，晚上一直插着电，太危险了。",
                    "小区消防栓打开是空的，没有水，楼道里的灭火器也过期了。",
                    "地下车库的消防通道被杂物和私家车堵住了，一直没人管。",
                    "底商饭店后厨的液化气罐随便摆放，还有人在旁边抽烟。",
                ],
                resolutions: &[
                    "网格员联合物业开展入户宣传，清理楼道电动车，并劝导居民到集中充电点充电。",
                    "督促物业更换过期灭火器、修复消防栓供水，经消防部门复查合格。",
                ],
            },
            ItemSpec {
                code: "safety.gas",
                name_zh: "燃气安全",
                name_en: "Gas safety",
                tier: "medium",
                descriptions: &[
                    "6号楼3单元楼道里煤气味很浓，不知道是哪家漏气，大家都很紧张。",
                    "老旧小区燃气管道锈蚀严重，有的地方已经用胶布缠着了。",
                    "家里燃气表不走字了，燃气公司说要排队等维修。",
                ],
                resolutions: &[
                    "燃气公司抢修人员到场排查，确认系一户阀门老化漏气，已更换并恢复供气。",
                    "将该小区纳入燃气管道老化更新改造计划，已完成立管更换。",
                ],
            },
            ItemSpec {
                code: "safety.building",
                name_zh: "危房与高空坠物隐患",
                name_en: "Unsafe buildings and falling objects",
                tier: "major",
                descriptions: &[
                    "6号楼外墙瓷砖经常往下掉，上周差点砸到人，楼下是孩子们玩的地方。",
                    "我们住的平房墙体开裂，下雨屋里漏水，担心房子会塌。",
                    "楼顶的广告牌架子锈得很厉害，大风天晃得吓人。",
                ],
                resolutions: &[
                    "设置安全警戒区，委托专业队伍清除外墙空鼓瓷砖并进行加固。",
                    "经房屋安全鉴定为危险房屋，已协助住户临时安置并启动修缮程序。",
                ],
            },
            ItemSpec {
                code: "safety.order",
                name_zh: "防范诈骗与治安防控",
                name_en: "Fraud prevention and public order",
                tier: "minor",
                descriptions: &[
                    "我父亲接到自称公检法的电话，让他把钱转到“安全账户”，差点就转了。",
                    "小区最近晚上有陌生人挨家挨户推门，还丢了几辆电动车。",
                    "小区监控有好几个坏了，之前丢东西都查不到。",
                ],
                resolutions: &[
                    "社区民警入户开展反诈宣传，并帮助老人安装国家反诈中心应用。",
                    "协调物业修复监控探头，派出所加强夜间巡逻，治安状况明显好转。",
                ],
            },
        ],
    },
    // 14. 文明创建与志愿服务 -------------------------------------------------
    ClassSpec {
        code: "civility",
        name_zh: "文明创建与志愿服务",
        name_en: "Civility campaigns and volunteering",
        items: &[
            ItemSpec {
                code: "civility.wish",
                name_zh: "微心愿",
                name_en: "Micro wishes",
                tier: "micro",
                descriptions: &[
                    "我是留守儿童的奶奶，孙子想要一套课外书和一个新书包。",
                    "社区困难家庭的孩子想学画画，希望有爱心人士能送一套画具。",
                    "我们楼有位独居老人想要一台收音机听戏，儿女都不在身边。",
                ],
                resolutions: &[
                    "微心愿已被辖区在职党员认领，书包和课外书已送到孩子手中。",
                    "爱心企业认领微心愿，志愿者上门将收音机送给老人并教会使用。",
                ],
            },
            ItemSpec {
                code: "civility.volunteer",
                name_zh: "志愿服务需求",
                name_en: "Requests for volunteer services",
                tier: "micro",
                descriptions: &[
                    "小区里有几位行动不便的老人需要有人帮忙买菜，能不能安排志愿者？",
                    "我们楼想组织一次楼道大扫除，希望社区派些志愿者一起干。",
                    "我是退休教师，想报名当志愿者给孩子辅导功课，去哪里登记？",
                ],
                resolutions: &[
                    "社区发布志愿服务项目，党员志愿者已结对为老人每周代购两次。",
                    "已为其在志愿服务平台完成注册，安排参与四点半课堂辅导。",
                ],
            },
            ItemSpec {
                code: "civility.dogs",
                name_zh: "不文明养犬",
                name_en: "Irresponsible dog keeping",
                tier: "minor",
                descriptions: &[
                    "小区里很多人遛狗不拴绳，我孩子上周被狗追着跑，吓得直哭。",
                    "中心绿地的草坪上到处是狗粪，没人清理，根本没法下脚。",
                    "邻居家养了一条大型犬，没有办证，经常冲着路人狂叫。",
                ],
                resolutions: &[
                    "社区联合派出所开展文明养犬宣传，对未拴绳的犬主进行劝导登记。",
                    "设置宠物粪便收集箱和文明养犬提示牌，组织志愿者开展劝导巡查。",
                ],
            },
        ],
    },
    // 15. 党建与其他 ---------------------------------------------------------
    ClassSpec {
        code: "party",
        name_zh: "党建与其他事项",
        name_en: "Party building and other matters",
        items: &[
            ItemSpec {
                code: "party.transfer",
                name_zh: "党组织关系转接",
                name_en: "Party membership transfer",
                tier: "micro",
                descriptions: &[
                    "我刚退休，组织关系需要从原单位转到居住地社区，不知道怎么办。",
                    "我是流动党员，长期在这边打工，想就近参加组织生活。",
                    "大学毕业回来工作，党员组织关系还在学校，怎么转接？",
                ],
                resolutions: &[
                    "社区党委指导其通过全国党员管理信息系统完成组织关系转接。",
                    "已将该流动党员编入社区流动党员党小组，按时参加组织生活。",
                ],
            },
            ItemSpec {
                code: "party.report",
                name_zh: "在职党员社区报到",
                name_en: "Serving party members reporting to communities",
                tier: "micro",
                descriptions: &[
                    "我是机关在职党员，想回居住社区报到参加志愿服务，去哪里登记？",
                    "单位要求在职党员到社区报到，社区有哪些服务岗位可以认领？",
                    "我们单位党支部想和社区结对共建，开展联合主题党日活动。",
                ],
                resolutions: &[
                    "已为在职党员完成报到登记，认领了楼栋长和文明劝导岗位。",
                    "社区与单位党支部签订共建协议，确定每季度开展一次共建活动。",
                ],
            },
            ItemSpec {
                code: "party.title_deed",
                name_zh: "历史遗留房产证办理",
                name_en: "Long-standing property title certificate issues",
                tier: "hard",
                descriptions: &[
                    "我们小区建成二十年了，因为开发商的问题一直办不下房产证，房子没法过户。",
                    "回迁房交房十年了，开发商欠缴土地出让金，三百多户都没有不动产证。",
                    "单位集资建的房子，原单位已经改制，房本一直没人给办。",
                ],
                resolutions: &[
                    "区里成立工作专班梳理历史遗留问题，已为首批一百二十户办理不动产证。",
                    "协调规划资源、住建等部门召开联席会议，明确补缴方案并启动办证。",
                ],
            },
        ],
    },
];

pub const STREETS: &[(&str, &str)] = &[
    ("海晏街道", "Haiyan Street"),
    ("津湾街道", "Jinwan Street"),
    ("渤澜街道", "Bolan Street"),
    ("潮音镇", "Chaoyin Town"),
    ("滨瑞经济开发区", "Binrui Economic Development Zone"),
];

pub const COMMUNITIES: &[&str] = &[
    "海韵社区",
    "金沙社区",
    "渔港社区",
    "盐场社区",
    "港城社区",
    "潮汐社区",
    "贝壳社区",
    "蓝湾社区",
    "海帆社区",
    "望海社区",
    "晨曦社区",
    "春晖社区",
    "和顺社区",
    "康宁社区",
    "福园社区",
    "安居社区",
    "紫云社区",
    "碧水社区",
    "翠湖社区",
    "云帆社区",
    "锦绣社区",
    "星河社区",
    "海棠社区",
    "丁香社区",
    "枫林社区",
    "银杏社区",
    "梧桐社区",
    "芦花社区",
    "苇塘社区",
    "荷风社区",
    "新港湾社区",
    "渤海花园社区",
    "滨河社区",
    "前沽社区",
    "后沽社区",
    "远航社区",
    "长堤社区",
    "灯塔社区",
    "鸥鸣社区",
    "怡海社区",
    "瑞景社区",
    "嘉园社区",
    "东苑社区",
    "西苑社区",
    "北岸社区",
    "南滩村",
    "北滩村",
    "高家堡村",
    "李家台村",
    "苇子庄村",
    "盐坨村",
    "渔舍村",
    "新河口村",
    "沙岗村",
    "柳林村",
    "三合村",
    "太平村",
    "红星村",
    "前进村",
    "东堤头村",
];

pub const DEPARTMENTS: &[(&str, &str)] = &[
    (
        "区住房和建设委员会",
        "District Housing and Construction Commission",
    ),
    ("区城市管理委员会", "District Urban Management Commission"),
    (
        "区市场监督管理局",
        "District Administration for Market Regulation",
    ),
    ("区民政局", "District Civil Affairs Bureau"),
    (
        "区人力资源和社会保障局",
        "District Human Resources and Social Security Bureau",
    ),
    ("区生态环境局", "District Ecology and Environment Bureau"),
    ("区交通运输局", "District Transport Bureau"),
    ("区教育体育局", "District Education and Sports Bureau"),
    ("区卫生健康委员会", "District Health Commission"),
    ("区水务局", "District Water Affairs Bureau"),
];

pub const SURNAMES: &[&str] = &[
    "王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙", "胡", "朱", "高", "林",
    "何", "郭", "马", "罗", "梁", "宋", "郑", "谢", "韩", "唐", "冯", "于", "董", "萧", "程", "曹",
    "袁", "邓", "许", "傅", "沈", "曾", "彭", "吕", "苏", "卢", "蒋", "蔡", "贾", "丁", "魏", "薛",
    "叶", "阎", "余", "潘", "杜", "戴", "夏", "钟", "汪", "田", "欧阳", "司马",
];

pub const GIVEN_NAMES: &[&str] = &[
    "建国", "秀英", "桂兰", "志强", "丽华", "海燕", "文博", "子涵", "浩然", "欣怡", "雨萱", "梓轩",
    "俊杰", "晓燕", "玉梅", "国庆", "淑芬", "凤英", "明辉", "春生", "秋菊", "冬梅", "立新", "卫东",
    "红梅", "伟", "芳", "静", "敏", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超",
    "霞", "平", "刚", "桂英", "宏伟", "振华", "春燕", "雪梅", "金凤", "德胜", "永强", "家豪",
    "思远", "佳怡", "一鸣", "嘉懿", "雨桐", "若曦", "梦琪", "诗涵", "宇航", "天佑", "博文", "晨阳",
    "子墨", "浩宇", "雅婷", "欣然", "锦程", "泽宇", "晓东", "海涛", "建华", "建军", "丽娟", "素珍",
    "玉兰", "金花", "淑珍", "志刚", "志明", "国华", "国栋", "长林", "庆丰", "福海", "广志", "宝山",
    "文静", "慧敏", "丽萍", "美玲", "婷婷", "晓红", "云飞", "鹏", "凯", "斌", "亮", "辉", "鑫",
    "瑶", "琳", "倩", "颖", "蕾", "晶", "宁", "帅", "晓光", "春梅", "桂芝", "海峰", "少华", "振国",
    "立平", "树林", "殿臣", "凤兰", "秀云", "书恒",
];

pub const ROADS: &[&str] = &[
    "海韵路",
    "津帆道",
    "港湾大道",
    "盐田路",
    "渤澜街",
    "潮音路",
    "晨光道",
    "望海路",
    "渔港街",
    "新湾路",
    "金沙道",
    "长堤路",
    "芦花街",
    "临海道",
    "银帆路",
    "北堤街",
    "贝壳路",
    "蓝湾道",
    "海晏路",
    "启航道",
    "鲸湾街",
    "云舟路",
    "红滩道",
    "苇塘路",
    "碧波街",
    "航标路",
    "锚地道",
    "灯塔路",
    "汇港街",
    "瑞丰道",
];

pub const RETURN_REASONS: &[&str] = &[
    "该事项属于物业公司职责，非本单位职能，请转物业服务企业处理",
    "诉求地址位于相邻街道辖区，不属本单位管辖，建议改派至属地街道",
    "该路段养护权属为市级部门，不在本单位管辖范围内",
    "该事项应由市场监管部门依法查处，本单位无相应执法权限",
    "经核实该设施属于企业自有资产，应由产权单位自行维修",
    "诉求人信息不全，多次联系无法核实具体地点，请补充后重新派单",
    "同一诉求已有工单正在办理，属重复派单，请合并处理",
    "诉求内容涉及供热企业服务合同，应由区供热主管部门督促处理",
];

pub const ESCALATE_REASONS: &[&str] = &[
    "涉及多个部门职责交叉，社区层面无法协调，申请街道吹哨召集相关部门",
    "整改所需资金超出社区为民服务资金额度，需上级统筹解决",
    "需要依法执法处置，社区无执法权限，申请上报街道综合执法队",
    "问题涉及规划审批等历史遗留事项，需区级部门研究解决",
    "涉及群体性诉求，影响面广，建议提级办理",
    "经多次调解双方仍无法达成一致，需上级部门介入处理",
    "涉及燃气、供电等专业设施安全隐患，需专业部门到场处置",
    "问题跨越多个街镇区域，需区级层面统筹协调",
];

pub const SUSPEND_REASONS: &[&str] = &[
    "已纳入明年老旧小区改造计划，待资金下达后实施",
    "冬季气温低，不具备施工条件，待明年开春后施工",
    "需等待上级部门审批结果，预计审批周期约三个月",
    "涉及产权确认和费用补缴，需待相关政策出台后统一办理",
    "项目已列入区级财政预算，正在履行招投标程序",
    "需与相邻地块开发建设同步实施，待项目开工后推进",
];

pub const SUPERVISE_ORDERS: &[&str] = &[
    "该诉求已超期，请于两个工作日内办结并反馈",
    "诉求人多次来电催办，请责任单位负责人亲自跟进，三日内反馈进展",
    "该事项已列入街道重点督办清单，请每周报送办理进度",
    "办理答复过于简单，未说明具体措施，请重新核实并补充办理情况",
    "群众对该诉求办理结果不满意，请重新办理并与诉求人当面沟通",
    "请严格落实首接负责制，不得以非本单位职责为由推诿",
    "该问题反复出现，请查明原因并建立长效管理机制",
    "本件为区级督办件，请于五个工作日内书面报告办理结果",
];

pub const NOTES: &[&str] = &[
    "已电话联系诉求人了解具体情况，约定明天上午到现场查看",
    "网格员已到现场核实，情况属实，已拍照留存",
    "电话联系诉求人未接通，已发送短信告知办理进展",
    "已与物业负责人沟通，对方承诺本周内完成维修",
    "今日上门回访诉求人，对方表示问题已基本解决",
    "已协调相关部门现场会商，明确了责任分工和完成时限",
    "施工队已进场作业，预计三天内完工",
    "诉求人补充了照片和具体位置，已转交维修人员",
    "已向诉求人解释相关政策，对方表示理解，待材料补齐后继续办理",
    "党员志愿者已认领，计划本周末上门服务",
];

pub const VERIFY_FAIL_REASONS: &[&str] = &[
    "现场核查问题未彻底解决，请继续整改",
    "办理结果缺少现场照片等佐证材料，请补充后重新提交",
    "未与诉求人沟通确认办理结果，请先回访诉求人",
    "整改措施仅为临时处理，未建立长效机制，请完善",
    "回复内容与诉求不对应，请核实诉求内容后重新办理",
    "诉求人反映维修后问题再次出现，请重新处置",
];

pub const RATING_COMMENTS_GOOD: &[&str] = &[
    "办得又快又好，感谢社区！",
    "网格员很负责，当天就来看了",
    "问题解决了，给党员志愿者点赞",
    "态度好，效率高，非常满意",
    "多年的老大难终于解决了，谢谢",
    "有事找网格，真方便",
    "老人很感动，谢谢志愿者常来看望",
    "回访很及时，服务很贴心",
    "路灯亮了，晚上回家踏实多了",
    "企业服务专员帮了大忙，手续很快就办好了",
];

pub const RATING_COMMENTS_BAD: &[&str] = &[
    "拖了很久才来处理，效率太低",
    "只是临时处理一下，过两天又坏了",
    "没有人联系我，就直接说办结了",
    "推来推去，最后也没解决",
    "处理结果和我反映的问题不是一回事",
    "态度还行，但问题根本没解决",
];

pub const REJECT_TEXTS: &[&str] = &[
    "您反映的事项已进入司法程序，请通过人民法院依法解决，本平台不予受理",
    "诉求地点位于外省市，不属于本区管辖范围，建议向当地政府反映",
    "该事项属于个人之间的民事借贷纠纷，建议通过协商或诉讼途径解决",
    "诉求内容涉嫌刑事案件，请直接向公安机关报案",
    "您反映的是对法院生效判决的异议，请依法申请再审或提出申诉",
];

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const TIERS: &[&str] = &["micro", "minor", "medium", "major", "hard"];

    fn chars(s: &str) -> usize {
        s.chars().count()
    }

    #[test]
    fn catalogue_shape() {
        assert_eq!(CATALOGUE.len(), 15);
        let total: usize = CATALOGUE.iter().map(|c| c.items.len()).sum();
        assert_eq!(total, 56);
    }

    #[test]
    fn class_codes_valid_and_unique() {
        let mut seen = HashSet::new();
        for c in CATALOGUE {
            assert!(!c.code.is_empty());
            assert!(
                c.code.chars().all(|ch| ch.is_ascii_lowercase()),
                "bad class code {}",
                c.code
            );
            assert!(seen.insert(c.code), "duplicate class code {}", c.code);
            assert!(!c.name_zh.is_empty() && !c.name_en.is_empty());
            assert!(!c.items.is_empty());
        }
    }

    #[test]
    fn item_codes_valid_and_unique() {
        let mut seen = HashSet::new();
        for c in CATALOGUE {
            let prefix = format!("{}.", c.code);
            for it in c.items {
                assert!(
                    it.code.starts_with(&prefix),
                    "{} not under {}",
                    it.code,
                    c.code
                );
                assert!(it.code.len() <= 48, "{} too long", it.code);
                let rest = &it.code[prefix.len()..];
                assert!(!rest.is_empty(), "{} empty item part", it.code);
                assert!(
                    rest.chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
                    "bad item code {}",
                    it.code
                );
                assert!(seen.insert(it.code), "duplicate item code {}", it.code);
                assert!(!it.name_zh.is_empty() && !it.name_en.is_empty());
            }
        }
    }

    #[test]
    fn tiers_valid_and_mixed() {
        let mut used = HashSet::new();
        for c in CATALOGUE {
            for it in c.items {
                assert!(
                    TIERS.contains(&it.tier),
                    "bad tier {} on {}",
                    it.tier,
                    it.code
                );
                used.insert(it.tier);
            }
        }
        assert_eq!(used.len(), TIERS.len(), "every tier should be used");
    }

    #[test]
    fn descriptions_and_resolutions() {
        for c in CATALOGUE {
            for it in c.items {
                assert!(
                    (3..=5).contains(&it.descriptions.len()),
                    "{} has {} descriptions",
                    it.code,
                    it.descriptions.len()
                );
                assert!(
                    (2..=3).contains(&it.resolutions.len()),
                    "{} has {} resolutions",
                    it.code,
                    it.resolutions.len()
                );
                for d in it.descriptions {
                    let n = chars(d);
                    assert!(
                        (15..=80).contains(&n),
                        "{}: description len {} : {}",
                        it.code,
                        n,
                        d
                    );
                }
                for r in it.resolutions {
                    let n = chars(r);
                    assert!(
                        (15..=60).contains(&n),
                        "{}: resolution len {} : {}",
                        it.code,
                        n,
                        r
                    );
                }
            }
        }
    }

    #[test]
    fn list_counts() {
        assert_eq!(STREETS.len(), 5);
        assert_eq!(COMMUNITIES.len(), 60);
        assert_eq!(DEPARTMENTS.len(), 10);
        assert_eq!(SURNAMES.len(), 60);
        assert_eq!(GIVEN_NAMES.len(), 120);
        assert_eq!(ROADS.len(), 30);
        assert_eq!(RETURN_REASONS.len(), 8);
        assert_eq!(ESCALATE_REASONS.len(), 8);
        assert_eq!(SUSPEND_REASONS.len(), 6);
        assert_eq!(SUPERVISE_ORDERS.len(), 8);
        assert_eq!(NOTES.len(), 10);
        assert_eq!(VERIFY_FAIL_REASONS.len(), 6);
        assert_eq!(RATING_COMMENTS_GOOD.len(), 10);
        assert_eq!(RATING_COMMENTS_BAD.len(), 6);
        assert_eq!(REJECT_TEXTS.len(), 5);
    }

    #[test]
    fn communities_unique_and_suffixed() {
        let mut seen = HashSet::new();
        for c in COMMUNITIES {
            assert!(
                c.ends_with("社区") || c.ends_with('村'),
                "bad community {}",
                c
            );
            assert!(seen.insert(*c), "duplicate community {}", c);
        }
    }

    #[test]
    fn names_and_roads_well_formed() {
        let s: HashSet<_> = SURNAMES.iter().collect();
        assert_eq!(s.len(), SURNAMES.len(), "duplicate surname");
        assert!(SURNAMES.iter().all(|n| (1..=2).contains(&chars(n))));
        let g: HashSet<_> = GIVEN_NAMES.iter().collect();
        assert_eq!(g.len(), GIVEN_NAMES.len(), "duplicate given name");
        assert!(GIVEN_NAMES.iter().all(|n| (1..=2).contains(&chars(n))));
        let r: HashSet<_> = ROADS.iter().collect();
        assert_eq!(r.len(), ROADS.len(), "duplicate road");
        for road in ROADS {
            assert!(
                road.ends_with('路') || road.ends_with('道') || road.ends_with('街'),
                "bad road {}",
                road
            );
        }
        let st: HashSet<_> = STREETS.iter().map(|s| s.0).collect();
        assert_eq!(st.len(), STREETS.len());
        let dp: HashSet<_> = DEPARTMENTS.iter().map(|d| d.0).collect();
        assert_eq!(dp.len(), DEPARTMENTS.len());
    }

    #[test]
    fn texts_non_empty() {
        for list in [
            RETURN_REASONS,
            ESCALATE_REASONS,
            SUSPEND_REASONS,
            SUPERVISE_ORDERS,
            NOTES,
            VERIFY_FAIL_REASONS,
            RATING_COMMENTS_GOOD,
            RATING_COMMENTS_BAD,
            REJECT_TEXTS,
        ] {
            for t in list {
                assert!(chars(t) >= 4, "text too short: {}", t);
            }
        }
    }
}
