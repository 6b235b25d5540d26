// The texts int8 drift is measured on: embedded with a folder's fp32 and int8 graphs, row by
// row. English and Chinese (ALBERT checkpoints come in both), short and long (a dynamically
// quantized graph picks one activation scale per batch, so a batch's longest text sets it).
// Written for this project; changing them changes every stored drift figure.

const ENGLISH = [
  'The quick brown fox jumps over the lazy dog.',
  'Hello!',
  'How do I reset my password if I no longer have access to my email?',
  'The meeting has been moved to Thursday at 3 pm.',
  'Prices rose by 3.2% in October, the fastest pace since early 2023.',
  'She placed the book on the shelf and turned off the light.',
  'Is this restaurant open on Sundays?',
  'Water boils at 100 degrees Celsius at sea level.',
  'The committee approved the budget after a long debate about school funding.',
  'Please send the signed contract back by Friday.',
  'I love this phone, but the battery barely lasts a day.',
  'Photosynthesis converts light energy into chemical energy stored in glucose.',
  'The train to Boston departs from platform 4.',
  'Can you recommend a good book about the history of mathematics?',
  'Our quarterly revenue exceeded expectations thanks to strong sales in Asia.',
  'The patient was given antibiotics and discharged the next morning.',
  'A small earthquake shook the coastal town overnight; no injuries were reported.',
  'He learned to play the violin when he was seven years old.',
  'Add two cups of flour, one egg and a pinch of salt, then stir until smooth.',
  'The new software update fixes a bug that caused the app to crash on startup.',
  'Neural networks learn representations of data through layers of simple functions.',
  'What time does the museum close today?',
  'The river flooded the valley after three days of heavy rain.',
  'Remote work has changed how companies think about office space.',
  'This is the worst customer service I have ever experienced.',
  'The telescope captured images of a galaxy more than ten billion light years away.',
  'Thank you so much for your help yesterday!',
  'Vaccines train the immune system to recognize a pathogen without causing the disease.',
  'The orchestra will perform Beethoven\'s Ninth Symphony next spring.',
  'Tokyo, Japan: 14 million residents, 23 special wards.',
  'Error 404: the page you requested could not be found.',
  'Researchers found that sleep plays a key role in forming long-term memories.',
  'The hikers reached the summit just before sunrise.',
  'Interest rates are expected to remain unchanged for the rest of the year.',
  'My grandmother grows tomatoes, peppers and basil in her garden every summer.',
  'Solar panels convert sunlight directly into electricity using semiconductor materials.',
  'The defendant pleaded not guilty to all charges.',
  'Could you turn the music down a little, please?',
  'Machine translation has improved dramatically over the past decade, but idioms, humour and ' +
    'culturally specific references still trip up even the best systems, which is why professional ' +
    'translators remain essential for legal, medical and literary texts where a single mistranslated ' +
    'word can change the meaning of an entire passage.',
  'The city council met on Tuesday evening to discuss the proposed expansion of the public library. ' +
    'Supporters argued that the new wing would provide much-needed space for children\'s programs, ' +
    'study rooms and a digital media lab, while opponents questioned whether the cost, estimated at ' +
    'twelve million dollars, could be justified at a time when several roads and bridges in the ' +
    'district are in urgent need of repair. After nearly three hours of public comment, the council ' +
    'voted to postpone a final decision until an independent review of the budget is completed.',
  'In the early morning the market fills with farmers unloading crates of apples, pears, cabbages ' +
    'and potatoes, bakers arranging loaves still warm from the oven, and fishmongers shouting the ' +
    'prices of the day\'s catch, while the first customers wander between the stalls with baskets ' +
    'and coffee cups, tasting cheese, haggling over honey and greeting neighbours they have known ' +
    'for decades.',
  'ALBERT shares one set of layer weights across all of its layers and factorizes the embedding ' +
    'matrix into two smaller matrices, which cuts the number of parameters by an order of magnitude ' +
    'compared with BERT of the same depth while keeping most of its accuracy on language ' +
    'understanding benchmarks.',
];

const CHINESE = [
  '今天天气很好，我们去公园散步吧。',
  '你好！',
  '请问最近的地铁站在哪里？',
  '会议改到星期四下午三点。',
  '这家餐厅的菜很好吃，但是价格有点贵。',
  '我每天早上七点起床，然后去跑步。',
  '他把书放在桌子上，然后关了灯。',
  '水在标准大气压下一百摄氏度沸腾。',
  '公司第三季度的收入比去年同期增长了百分之十二。',
  '请在星期五之前把签好的合同寄回来。',
  '这部手机拍照效果很好，可是电池不耐用。',
  '光合作用把光能转化为储存在葡萄糖中的化学能。',
  '开往上海的列车从四号站台出发。',
  '你能推荐一本关于中国历史的好书吗？',
  '病人服用抗生素后，第二天早上就出院了。',
  '昨晚沿海小镇发生了一次小地震，没有人员受伤。',
  '她七岁的时候开始学习弹钢琴。',
  '新版本的软件修复了启动时崩溃的问题。',
  '神经网络通过多层简单的函数学习数据的表示。',
  '博物馆今天几点关门？',
  '连续三天的大雨使河水漫过了山谷。',
  '远程办公改变了很多公司对办公室的看法。',
  '这是我遇到过的最差的客户服务。',
  '谢谢你昨天的帮助！',
  '疫苗让免疫系统在不致病的情况下认识病原体。',
  '北京是中国的首都，有两千多万人口。',
  '研究人员发现，睡眠对形成长期记忆起着关键作用。',
  '登山者在日出之前到达了山顶。',
  '我奶奶每年夏天都在院子里种西红柿、辣椒和葱。',
  '太阳能电池板利用半导体材料把阳光直接转化为电能。',
  '机器翻译在过去十年里有了很大的进步，但是成语、幽默和带有文化背景的表达仍然常常让最好的系统出错，' +
    '所以在法律、医学和文学翻译中，专业译者仍然必不可少，因为一个词译错就可能改变整段话的意思。',
  '清晨的菜市场非常热闹，农民们忙着卸下一筐筐苹果、白菜和土豆，面包师傅摆出刚出炉的面包，' +
    '鱼贩子大声报着当天的价格，第一批顾客提着篮子在摊位之间走来走去，尝尝这个，问问那个，' +
    '和认识了几十年的老邻居打招呼。',
  'ALBERT 模型在所有层之间共享参数，并把词向量矩阵分解成两个较小的矩阵，因此参数量比同样深度的 BERT 少得多。',
];

/** Every drift text, English first. */
export const DRIFT_SAMPLE: readonly string[] = [...ENGLISH, ...CHINESE];
